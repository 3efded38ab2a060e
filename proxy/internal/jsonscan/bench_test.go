package jsonscan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// benchMessage returns a JSON-RPC answer of about size bytes shaped like a tools/call
// result: nested objects, numbers, and text with escapes.
func benchMessage(size int) []byte {
	var sb strings.Builder
	sb.WriteString(`{"jsonrpc":"2.0","id":42,"result":{"content":[`)
	for i := 0; sb.Len() < size-100; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"type":"text","text":"line %d: caf\u00e9 \"quoted\" value\n","n":%d.25,"ok":true}`, i, i)
	}
	sb.WriteString(`],"isError":false}}`)
	return []byte(sb.String())
}

func BenchmarkValid(b *testing.B) {
	inputs := []struct {
		name string
		msg  []byte
	}{
		{"1KiB", benchMessage(1 << 10)},
		{"8MiB", benchMessage(8 << 20)},
		// One large text result, the usual shape of a big answer.
		{"8MiB-string", []byte(`{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"` + strings.Repeat(`abc \"def\" \u00e9 `, 8<<20/20) + `"}]}}`)},
	}
	for _, in := range inputs {
		msg := in.msg
		b.Run("jsonscan/"+in.name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if Valid(msg, 0) != nil {
					b.Fatal("invalid")
				}
			}
		})
		b.Run("gjson/"+in.name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if !gjson.ValidBytes(msg) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
