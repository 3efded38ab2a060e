package sse

import (
	"errors"
	"io"
)

// Data reads the text/event-stream r and calls fn with the data of each event that has
// data, in order, until fn returns false or the stream ends. data is only valid during the
// call. It returns nil when the stream ended cleanly or fn stopped it, and the read error
// otherwise.
func Data(r io.Reader, fn func(data []byte) bool) error {
	s := NewReader(r)
	for {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if !fn(ev.Data) {
			return nil
		}
	}
}
