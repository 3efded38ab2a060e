package sse

import (
	"bytes"
	"strings"
	"testing"
)

func BenchmarkSSEReader8MiB(b *testing.B) {
	stream := []byte("event: message\nid: 1\ndata: " + strings.Repeat("x", 8<<20) + "\n\n")
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		sr := NewReader(bytes.NewReader(stream))
		if _, err := sr.Next(); err != nil {
			b.Fatal(err)
		}
	}
}
