package sse

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy/internal/readtest"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
)

type parsedStream struct {
	Data        []string
	LastEventID string
	Retry       time.Duration
}

func parseAll(r io.Reader) (parsedStream, error) { return parseAllLimit(r, 0) }

// parseAllLimit parses r with a MaxEvent of limit; zero means the default.
func parseAllLimit(r io.Reader, limit int) (parsedStream, error) {
	sr := NewReader(r)
	sr.MaxEvent = limit
	var got parsedStream
	for {
		ev, err := sr.Next()
		if err != nil {
			got.LastEventID, got.Retry = sr.LastEventID, sr.Retry
			if errors.Is(err, io.EOF) {
				return got, nil
			}
			return got, err
		}
		got.Data = append(got.Data, string(ev.Data))
	}
}

func TestSSEReader(t *testing.T) {
	tests := []struct {
		desc   string
		stream string
		want   parsedStream
	}{
		{"LF endings", "data: {\"a\":1}\n\ndata: {\"b\":2}\n\n", parsedStream{Data: []string{`{"a":1}`, `{"b":2}`}}},
		{"CRLF endings", "id: 1\r\ndata: x\r\n\r\nid: 2\r\ndata: y\r\n\r\n", parsedStream{Data: []string{"x", "y"}, LastEventID: "2"}},
		{"CR endings", "data: x\r\rdata: y\r\r", parsedStream{Data: []string{"x", "y"}}},
		{"multi-line data joined with LF", "data: {\"a\":\ndata: 1}\n\n", parsedStream{Data: []string{"{\"a\":\n1}"}}},
		{"comments and keep-alives ignored", ": ping\n\n:\ndata: x\n\n", parsedStream{Data: []string{"x"}}},
		{"priming event with id and empty data is not dispatched", "id: p0\nretry: 250\ndata:\n\n", parsedStream{LastEventID: "p0", Retry: 250 * time.Millisecond}},
		{"go-sdk priming event", "event: prime\nid: 0_0\ndata: \n\ndata: x\n\n", parsedStream{Data: []string{"x"}, LastEventID: "0_0"}},
		{"events of another type are skipped", "event: ping\ndata: x\n\ndata: y\n\n", parsedStream{Data: []string{"y"}}},
		{"an id applies only once its event is complete", "id: 1\ndata: a\n\nid: 2\ndata: {\"cut", parsedStream{Data: []string{"a"}, LastEventID: "1"}},
		{"id without data", "id: 7\n\n", parsedStream{LastEventID: "7"}},
		{"no space after colon", "data:x\n\n", parsedStream{Data: []string{"x"}}},
		{"field without colon", "data\n\ndata\ndata\n\n", parsedStream{Data: []string{"\n"}}},
		{"event type kept apart", "event: message\ndata: x\n\n", parsedStream{Data: []string{"x"}}},
		{"id with NUL ignored", "id: a\x00b\ndata: x\n\n", parsedStream{Data: []string{"x"}}},
		{"invalid retry ignored", "retry: soon\ndata: x\n\n", parsedStream{Data: []string{"x"}}},
		{"unterminated last event is dropped", "data: x\n\ndata: y", parsedStream{Data: []string{"x"}}},
		{"unterminated event after its data line is dropped", "id: 9\ndata: y\n", parsedStream{}},
		{"empty stream", "", parsedStream{}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			// Whole, one byte at a time, and split at every boundary must all parse alike.
			readers := map[string]func() io.Reader{
				"whole":      func() io.Reader { return bytes.NewReader([]byte(tc.stream)) },
				"bytewise":   func() io.Reader { return iotest.OneByteReader(bytes.NewReader([]byte(tc.stream))) },
				"half-reads": func() io.Reader { return iotest.HalfReader(bytes.NewReader([]byte(tc.stream))) },
			}
			for i := 0; i <= len(tc.stream); i++ {
				readers["split"] = func() io.Reader {
					return io.MultiReader(bytes.NewReader([]byte(tc.stream[:i])), bytes.NewReader([]byte(tc.stream[i:])))
				}
				for name, mk := range readers {
					got, err := parseAll(mk())
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if diff := cmp.Diff(tc.want, got, cmp.Transformer("nilAsEmpty", func(s []string) []string {
						if s == nil {
							return []string{}
						}
						return s
					})); diff != "" {
						t.Fatalf("%s (split at %d) (-want +got):\n%s", name, i, diff)
					}
				}
			}
		})
	}
}

func TestSSEReaderDropsAPartialEventWhenTheStreamBreaks(t *testing.T) {
	r := io.MultiReader(bytes.NewReader([]byte("data: whole\n\ndata: {\"cut")), iotest.ErrReader(io.ErrUnexpectedEOF))
	got, err := parseAll(r)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want ErrUnexpectedEOF", err)
	}
	if diff := cmp.Diff([]string{"whole"}, got.Data); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSSEReaderDispatchesBeforeTheStreamEnds(t *testing.T) {
	pr, pw := io.Pipe()
	sr := NewReader(pr)
	go func() { _, _ = io.WriteString(pw, "data: first\n\n") }() // and nothing more yet
	ev, err := sr.Next()
	if err != nil || string(ev.Data) != "first" {
		t.Fatalf("next = %q, %v", ev.Data, err)
	}
	pw.Close()
}

func FuzzSSEReader(f *testing.F) {
	for _, seed := range []string{
		"data: x\n\n", "id: 1\r\ndata: a\r\ndata: b\r\n\r\n", "data: x\r\rretry: 10\r", ": c\n\ndata", "data:\xff\n\n",
	} {
		f.Add([]byte(seed), uint16(1), uint8(0))
	}
	// Events and lines around a small limit: at it, over it in one line, over it in several.
	for _, seed := range []string{
		"data: " + strings.Repeat("a", 16) + "\n\ndata: b\n\n",
		"data: " + strings.Repeat("a", 17) + "\n\ndata: b\n\n",
		"data: " + strings.Repeat("a", 8) + "\ndata: " + strings.Repeat("a", 8) + "\r\n\r\n",
		": " + strings.Repeat("c", 40) + "\rdata: x\r\r",
		"id: 1\ndata: " + strings.Repeat("a", 40),
	} {
		f.Add([]byte(seed), uint16(7), uint8(16))
	}
	f.Fuzz(func(t *testing.T, stream []byte, split uint16, limit uint8) {
		whole, errWhole := parseAllLimit(bytes.NewReader(stream), int(limit))
		if errWhole != nil && !errors.Is(errWhole, ErrEventTooLarge) {
			t.Fatal(errWhole)
		}
		if errWhole != nil && (limit == 0 || len(stream) <= int(limit)) {
			t.Fatalf("%v though the stream is %d bytes, the limit %d", errWhole, len(stream), limit)
		}
		at := int(split) % (len(stream) + 1)
		parts, errParts := parseAllLimit(io.MultiReader(bytes.NewReader(stream[:at]), iotest.OneByteReader(bytes.NewReader(stream[at:]))), int(limit))
		if !errors.Is(errParts, errWhole) && fmt.Sprint(errParts) != fmt.Sprint(errWhole) {
			t.Fatalf("split at %d: err %v, whole: %v", at, errParts, errWhole)
		}
		for _, d := range whole.Data {
			if limit > 0 && len(d) > int(limit) {
				t.Fatalf("event of %d bytes passed the limit of %d", len(d), limit)
			}
		}
		if diff := cmp.Diff(whole, parts); diff != "" {
			t.Fatalf("parse differs when split at %d (-whole +split):\n%s", at, diff)
		}
		// Every dispatched event's data must be in the stream: nothing invented.
		for _, d := range whole.Data {
			for _, line := range bytes.Split([]byte(d), []byte("\n")) {
				if !bytes.Contains(stream, line) {
					t.Fatalf("data %q not in the stream", line)
				}
			}
		}
	})
}

func TestSSEReaderLimitsEventSize(t *testing.T) {
	const limit = 100
	data := func(n int) string { return strings.Repeat("d", n) }
	tests := []struct {
		desc    string
		stream  string
		want    []string
		wantErr bool
	}{
		{desc: "data at the limit", stream: "data: " + data(limit) + "\n\n", want: []string{data(limit)}},
		{desc: "data over the limit", stream: "data: x\n\ndata: " + data(limit+1) + "\n\ndata: y\n\n", want: []string{"x"}, wantErr: true},
		{desc: "data over the limit, no space", stream: "data:" + data(limit+1) + "\n\n", wantErr: true},
		{desc: "lines that add up to over the limit", stream: "data: " + data(60) + "\ndata: " + data(40) + "\n\n", wantErr: true},
		{desc: "lines that add up to the limit", stream: "data: " + data(60) + "\ndata: " + data(39) + "\n\n", want: []string{data(60) + "\n" + data(39)}},
		{desc: "comment over the limit", stream: ": " + data(limit+10) + "\ndata: x\n\n", wantErr: true},
		{desc: "line over the limit without end", stream: "data: " + data(10*limit), wantErr: true},
		{desc: "many events each under the limit", stream: strings.Repeat("data: "+data(limit)+"\n\n", 5), want: []string{data(limit), data(limit), data(limit), data(limit), data(limit)}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			for name, r := range map[string]io.Reader{
				"whole":    strings.NewReader(tc.stream),
				"bytewise": iotest.OneByteReader(strings.NewReader(tc.stream)),
			} {
				sr := NewReader(r)
				sr.MaxEvent = limit
				var got []string
				var err error
				for {
					var ev Event
					if ev, err = sr.Next(); err != nil {
						break
					}
					got = append(got, string(ev.Data))
				}
				if tc.wantErr != errors.Is(err, ErrEventTooLarge) {
					t.Fatalf("%s: err = %v, want ErrEventTooLarge: %v", name, err, tc.wantErr)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("%s: events (-want +got):\n%s", name, diff)
				}
				if _, again := sr.Next(); tc.wantErr && !errors.Is(again, ErrEventTooLarge) {
					t.Errorf("%s: next after the error = %v, want ErrEventTooLarge again", name, again)
				}
			}
		})
	}
}

// TestSSEReaderDoesNotHoldAnEndlessEvent reads an event without a line break that never
// ends: the reader must fail once it has read about the limit, not keep reading.
func TestSSEReaderDoesNotHoldAnEndlessEvent(t *testing.T) {
	const limit = 1 << 20
	m := &readtest.Measuring{R: io.MultiReader(strings.NewReader("id: 1\ndata: "), readtest.Endless{})}
	sr := NewReader(m)
	sr.MaxEvent = limit
	_, err := sr.Next()
	if !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("err = %v, want ErrEventTooLarge", err)
	}
	if want := "server-sent event too large: more than the limit of 1048576 bytes in one event"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	if most := int64(len("id: 1\ndata: ") + limit + bufferSize); m.N > most {
		t.Errorf("read %d bytes of the stream, want at most %d", m.N, most)
	}
	// A resumed stream starts afresh.
	sr = sr.ContinueWith(strings.NewReader("data: ok\n\n"))
	if ev, err := sr.Next(); err != nil || string(ev.Data) != "ok" {
		t.Errorf("after ContinueWith: next = %q, %v", ev.Data, err)
	}
}

func TestSSEReaderDefaultLimit(t *testing.T) {
	sr := NewReader(io.MultiReader(strings.NewReader("data: "), readtest.Endless{}))
	if _, err := sr.Next(); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("err = %v, want ErrEventTooLarge", err)
	}
}

func TestSSEBufferPoolAppliesItsLimit(t *testing.T) {
	bp := &Pool{MaxEvent: 8}
	for range 2 { // a fresh buffer, then a recycled one
		sr := bp.Reader(strings.NewReader("data: 12345678\n\ndata: 123456789\n\n"))
		if ev, err := sr.Next(); err != nil || string(ev.Data) != "12345678" {
			t.Fatalf("next = %q, %v", ev.Data, err)
		}
		if _, err := sr.Next(); !errors.Is(err, ErrEventTooLarge) {
			t.Fatalf("err = %v, want ErrEventTooLarge", err)
		}
		bp.Release(sr)
	}
}
