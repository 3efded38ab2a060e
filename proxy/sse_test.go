package proxy

import (
	"bytes"
	"errors"
	"io"
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

func parseAll(r io.Reader) (parsedStream, error) {
	sr := newSSEReader(r)
	var got parsedStream
	for {
		ev, err := sr.next()
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
	sr := newSSEReader(pr)
	go func() { _, _ = io.WriteString(pw, "data: first\n\n") }() // and nothing more yet
	ev, err := sr.next()
	if err != nil || string(ev.Data) != "first" {
		t.Fatalf("next = %q, %v", ev.Data, err)
	}
	pw.Close()
}

func FuzzSSEReader(f *testing.F) {
	for _, seed := range []string{
		"data: x\n\n", "id: 1\r\ndata: a\r\ndata: b\r\n\r\n", "data: x\r\rretry: 10\r", ": c\n\ndata", "data:\xff\n\n",
	} {
		f.Add([]byte(seed), uint16(1))
	}
	f.Fuzz(func(t *testing.T, stream []byte, split uint16) {
		whole, err := parseAll(bytes.NewReader(stream))
		if err != nil {
			t.Fatal(err)
		}
		at := int(split) % (len(stream) + 1)
		parts, err := parseAll(io.MultiReader(bytes.NewReader(stream[:at]), iotest.OneByteReader(bytes.NewReader(stream[at:]))))
		if err != nil {
			t.Fatal(err)
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
