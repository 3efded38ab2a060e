package proxy

import (
	"bytes"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy/internal/readtest"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/tidwall/gjson"
)

func TestReadLines(t *testing.T) {
	long := strings.Repeat("y", 200_000) // longer than the reader's buffer
	tests := []struct {
		desc  string
		input string
		want  []string
	}{
		{"LF", "a\nb\n", []string{"a", "b"}},
		{"CRLF", "a\r\nb\r\n", []string{"a", "b"}},
		{"final line without newline", "a\nb", []string{"a", "b"}},
		{"blank lines skipped", "\n\n  \na\n\r\n", []string{"a"}},
		{"long line", long + "\nz\n", []string{long, "z"}},
		{"empty", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			for name, r := range map[string]io.Reader{
				"whole": strings.NewReader(tc.input),
				"half":  iotest.HalfReader(strings.NewReader(tc.input)),
			} {
				var got []string
				err := readLines(r, func(line []byte) bool { got = append(got, string(line)); return true })
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", name, diff)
				}
			}
		})
	}
}

func TestLineWriterMakesOneLinePerMessage(t *testing.T) {
	var out bytes.Buffer
	lw := newLineWriter(&out, slog.New(slog.DiscardHandler))
	lw.writeMessage([]byte("{\n  \"a\": \"x\\ny\"\r\n}\n"))
	lw.writeMessage([]byte(`{"b":2}`))
	if got, want := out.String(), "{  \"a\": \"x\\ny\"}\n{\"b\":2}\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func FuzzClassifyAndFrame(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"a"}`, `[{"id":1,"method":"a"},{"method":"n"}]`, `not json`, `123456789012345678901234567890`,
		"{\"id\":\"\xff\",\"method\":\"x\"}", `{"result":{},"id":3}`, `[]`, `null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		// Framing: whatever a line holds (but newlines), it comes back out whole and alone.
		line = bytes.ReplaceAll(bytes.ReplaceAll(line, []byte("\n"), nil), []byte("\r"), nil)
		var got [][]byte
		input := append(append(append([]byte{}, line...), '\n'), line...)
		if err := readLines(bytes.NewReader(input), func(l []byte) bool { got = append(got, l); return true }); err != nil {
			t.Fatal(err)
		}
		if len(bytes.TrimSpace(line)) > 0 {
			if len(got) != 2 || !bytes.Equal(got[0], line) || !bytes.Equal(got[1], line) {
				t.Fatalf("framing lost or changed the line: %q", got)
			}
		} else if len(got) != 0 {
			t.Fatalf("blank line emitted: %q", got)
		}

		m := classify(line)
		if m.kind == kindInvalid {
			return
		}
		if !bytes.Equal(m.body, line) {
			t.Fatal("classify changed the body")
		}
		// An error response for any id we extracted must itself be valid JSON.
		ids := m.batchIDs
		if m.kind == kindRequest {
			ids = [][]byte{m.id}
		}
		for _, id := range ids {
			resp := errorResponse(id, codeInternalError, string(line))
			if !gjson.ValidBytes(resp) {
				t.Fatalf("error response is not JSON: %s", resp)
			}
		}
	})
}

func TestReadLinesLimitSkipsOverLongLines(t *testing.T) {
	const limit = 100_000 // longer than the reader's buffer, so a line is held in fragments
	at := strings.Repeat("a", limit)
	over := strings.Repeat("o", limit+1)
	huge := strings.Repeat("h", 5*limit)
	type result struct {
		Lines   []string
		TooLong []int64
	}
	tests := []struct {
		desc  string
		input string
		want  result
	}{
		{"at the limit", at + "\nz\n", result{Lines: []string{at, "z"}}},
		{"at the limit with CRLF", at + "\r\nz\r\n", result{Lines: []string{at, "z"}}},
		{"one over", "a\n" + over + "\nz\n", result{Lines: []string{"a", "z"}, TooLong: []int64{limit + 1}}},
		{"far over", huge + "\nz\n", result{Lines: []string{"z"}, TooLong: []int64{5 * limit}}},
		{"far over with CRLF", huge + "\r\nz\r\n", result{Lines: []string{"z"}, TooLong: []int64{5 * limit}}},
		{"far over at the end without newline", "a\n" + huge, result{Lines: []string{"a"}, TooLong: []int64{5 * limit}}},
		{"two in a row", over + "\n" + huge + "\nz", result{Lines: []string{"z"}, TooLong: []int64{limit + 1, 5 * limit}}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			for name, r := range map[string]io.Reader{
				"whole": strings.NewReader(tc.input),
				"half":  iotest.HalfReader(strings.NewReader(tc.input)),
			} {
				var got result
				err := readLinesLimit(r, limit,
					func(line []byte) bool { got.Lines = append(got.Lines, string(line)); return true },
					func(size int64) bool { got.TooLong = append(got.TooLong, size); return true })
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", name, diff)
				}
			}
		})
	}
}

// TestReadLinesLimitDoesNotHoldAnEndlessLine feeds a line that never ends: reading must go
// on (discarding) without holding what it read, and stop when tooLong says so.
func TestReadLinesLimitDoesNotHoldAnEndlessLine(t *testing.T) {
	const limit = 1 << 20
	r := io.MultiReader(strings.NewReader("{}\n"), io.LimitReader(readtest.Endless{}, 64<<20), strings.NewReader("\n{\"id\":1}\n"))
	var lines []string
	var sizes []int64
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := readLinesLimit(r, limit,
		func(line []byte) bool { lines = append(lines, string(line)); return true },
		func(size int64) bool { sizes = append(sizes, size); return false })
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"{}"}, lines); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{64 << 20}, sizes); diff != "" {
		t.Errorf("too-long sizes (-want +got):\n%s", diff)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4*limit {
		t.Errorf("reading a 64 MiB line allocated %d bytes, want at most %d", alloc, 4*limit)
	}
}

// FuzzReadLinesLimit compares readLinesBuf, with a tiny buffer so that lines span many reads,
// with splitting the input at each LF: every line within the limit is emitted unchanged (but
// blank ones), and every line over it is reported with its size instead.
func FuzzReadLinesLimit(f *testing.F) {
	for _, seed := range []string{
		"a\nb\n", "a\r\nb", strings.Repeat("x", 40) + "\r\n" + strings.Repeat("y", 17) + "\nz",
		strings.Repeat("x", 31) + "\r\n", strings.Repeat("x", 32) + "\r\n\r\n", "  \n\t\n",
		strings.Repeat("[", 100) + "\n" + strings.Repeat("]", 15) + "\r",
	} {
		f.Add([]byte(seed), uint8(16))
	}
	f.Fuzz(func(t *testing.T, input []byte, limit uint8) {
		max := int(limit) + 1
		type result struct {
			Lines   []string
			TooLong []int64
		}
		var want, got result
		lines := bytes.Split(input, []byte("\n"))
		for i, l := range lines {
			if i == len(lines)-1 && len(l) == 0 {
				break // the input ended with LF
			}
			l = bytes.TrimSuffix(l, []byte("\r"))
			switch {
			case len(l) > max:
				want.TooLong = append(want.TooLong, int64(len(l)))
			case len(bytes.TrimSpace(l)) > 0:
				want.Lines = append(want.Lines, string(l))
			}
		}
		err := readLinesBuf(bytes.NewReader(input), 16, max,
			func(l []byte) bool { got.Lines = append(got.Lines, string(l)); return true },
			func(n int64) bool { got.TooLong = append(got.TooLong, n); return true })
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("limit %d (-want +got):\n%s", max, diff)
		}
	})
}
