// Package sse reads text/event-stream bodies incrementally, as the WHATWG HTML specification
// describes, with a bound on the size of one event.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// An Event is one dispatched server-sent event.
type Event struct {
	// Data is the event's data, its lines joined with "\n". It is only valid until the next
	// call to Next.
	Data    []byte
	HasData bool
	Type    string
}

// A Reader parses a text/event-stream incrementally, as the WHATWG HTML specification
// describes: an event is dispatched as soon as its terminating blank line arrives.
type Reader struct {
	r *bufio.Reader
	// skipLF is set after a CR line ending, so that the LF of a CRLF pair is not read as an
	// empty line. Waiting for the next byte instead would delay dispatch.
	skipLF bool
	line   []byte
	data   []byte

	// LastEventID is the id of the last complete event (an id field persists across events).
	LastEventID string
	// idBuffer is the id field of the event being read; it becomes LastEventID when the
	// event is complete.
	idBuffer string
	// Retry is the reconnection delay the server asked for, zero if it sent none.
	Retry time.Duration

	// MaxEvent is the largest event data accepted, in bytes; zero means
	// DefaultMaxEvent. A line may be longer by the "data: " before the data. The reader
	// never holds more than about that much of one event, however long the server sends.
	MaxEvent int
	// err, once set, is returned by every later call to next: a stream cut inside an event
	// too large to hold cannot be read further.
	err error
}

// DefaultMaxEvent is the largest event data a reader accepts unless told otherwise.
const DefaultMaxEvent = 64 << 20

// ErrEventTooLarge is wrapped by the error of an event (or one line of the stream) larger
// than the reader's MaxEvent.
var ErrEventTooLarge = errors.New("server-sent event too large")

// maxLineOverhead is what a line may hold besides an event's data: the field name.
const maxLineOverhead = len("data: ")

func (s *Reader) maxEvent() int {
	if s.MaxEvent > 0 {
		return s.MaxEvent
	}
	return DefaultMaxEvent
}

// tooLarge ends the stream with ErrEventTooLarge and lets go of what was read of the event.
func (s *Reader) tooLarge() error {
	s.line, s.data = nil, nil
	s.err = fmt.Errorf("%w: more than the limit of %d bytes in one event", ErrEventTooLarge, s.maxEvent())
	return s.err
}

// bufferSize is the read buffer of an event stream: large enough that a large message
// is read in few calls.
const bufferSize = 32 * 1024

func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, bufferSize)}
}

// An Pool recycles the read buffers of event streams. Every response to a request
// is a stream of its own, and allocating a fresh 32 KiB buffer for each took half the time
// the relay spends on a small message (BenchmarkRelayEchoSSE).
type Pool struct {
	p sync.Pool
	// MaxEvent is the MaxEvent of every reader the pool returns; zero means the default.
	MaxEvent int
}

// reader returns a reader of the event stream r; give it back with release when the stream
// is done.
func (bp *Pool) Reader(r io.Reader) *Reader {
	br, ok := bp.p.Get().(*bufio.Reader)
	if !ok {
		s := NewReader(r)
		s.MaxEvent = bp.MaxEvent
		return s
	}
	br.Reset(r)
	return &Reader{r: br, MaxEvent: bp.MaxEvent}
}

// release recycles s's buffer; s must not be used afterwards. Events it returned stay valid:
// their data never points into the read buffer.
func (bp *Pool) Release(s *Reader) {
	s.r.Reset(nil)
	bp.p.Put(s.r)
	s.r = nil
}

// next returns the next event with data, as an EventSource would dispatch it: when its
// terminating blank line arrives. Only then does its id become LastEventID, so a stream cut in
// the middle of an event resumes with the id of the last whole one and the server replays the
// cut event. An unterminated event at the end of the stream is incomplete and dropped, whether
// the stream ended cleanly or broke. Events without data (priming events that carry only an
// id) and events of a type other than "message" update LastEventID and Retry but are not
// returned. At the end of the stream next returns io.EOF or the read error. An event or line
// larger than MaxEvent ends the stream with an error wrapping ErrEventTooLarge.
func (s *Reader) Next() (Event, error) {
	if s.err != nil {
		return Event{}, s.err
	}
	s.data = s.data[:0]
	var ev Event
	for {
		line, err := s.readLine()
		if err != nil {
			return Event{}, err
		}
		if len(line) > 0 {
			if err := s.field(line, &ev); err != nil {
				return Event{}, err
			}
			continue
		}
		s.LastEventID = s.idBuffer
		if ev.HasData && len(s.data) > 0 && (ev.Type == "" || ev.Type == "message") {
			ev.Data = s.data
			return ev, nil
		}
		s.data = s.data[:0]
		ev = Event{}
	}
}

// ResumeFrom makes id the last event id, as if an event carrying it had been seen.
func (s *Reader) ResumeFrom(id string) {
	s.LastEventID, s.idBuffer = id, id
}

func (s *Reader) field(line []byte, ev *Event) error {
	if line[0] == ':' {
		return nil // a comment, often a keep-alive
	}
	name, value, found := bytes.Cut(line, []byte{':'})
	if found && len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	switch string(name) {
	case "data":
		if ev.HasData {
			if len(s.data)+1+len(value) > s.maxEvent() {
				return s.tooLarge()
			}
			s.data = append(s.data, '\n')
			s.data = append(s.data, value...)
			break
		}
		// The first data line of an event becomes the data without a copy: the line buffer
		// and the data buffer swap roles. A message is most often a single data line, so a
		// large one is held once, not twice.
		if len(value) > s.maxEvent() {
			return s.tooLarge()
		}
		s.line, s.data = s.data[:0], value
		ev.HasData = true
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			s.idBuffer = string(value)
		}
	case "retry":
		if ms, err := strconv.ParseUint(string(value), 10, 32); err == nil {
			s.Retry = time.Duration(ms) * time.Millisecond
		}
	case "event":
		ev.Type = string(value)
	}
	return nil
}

// readLine returns the next line without its ending (CRLF, LF or CR). The returned slice is
// reused by the next call. At the end of input it returns what it has with io.EOF. A line
// longer than the limit is an error before more than the limit is held.
func (s *Reader) readLine() ([]byte, error) {
	limit := s.maxEvent() + maxLineOverhead
	s.line = s.line[:0]
	// A line that outgrows s.line is collected in fragments and joined once into a buffer of
	// its exact size: growing one slice by append would allocate about five times the line.
	var frags [][]byte
	fragBytes := 0
	for {
		if s.r.Buffered() == 0 {
			if _, err := s.r.Peek(1); err != nil {
				return s.join(frags, fragBytes, nil), err
			}
		}
		chunk, _ := s.r.Peek(s.r.Buffered())
		if s.skipLF {
			s.skipLF = false
			if chunk[0] == '\n' {
				_, _ = s.r.Discard(1)
				continue
			}
		}
		i := bytes.IndexAny(chunk, "\r\n")
		held := len(s.line)
		if frags != nil {
			held = fragBytes
		}
		n := len(chunk)
		if i >= 0 {
			n = i
		}
		if held+n > limit {
			return nil, s.tooLarge()
		}
		if i < 0 {
			switch {
			case frags == nil && len(s.line)+len(chunk) <= cap(s.line):
				s.line = append(s.line, chunk...)
			case frags == nil:
				frags, fragBytes = append(frags, s.line, bytes.Clone(chunk)), len(s.line)+len(chunk)
			default:
				frags, fragBytes = append(frags, bytes.Clone(chunk)), fragBytes+len(chunk)
			}
			_, _ = s.r.Discard(len(chunk))
			continue
		}
		line := s.join(frags, fragBytes, chunk[:i])
		s.skipLF = chunk[i] == '\r'
		_, _ = s.r.Discard(i + 1)
		return line, nil
	}
}

// join ends a line with tail: appended to s.line, or, when the line was collected in
// fragments, joined with them into a new s.line of the exact size.
func (s *Reader) join(frags [][]byte, fragBytes int, tail []byte) []byte {
	if frags == nil {
		s.line = append(s.line, tail...)
		return s.line
	}
	line := make([]byte, 0, fragBytes+len(tail))
	for _, f := range frags {
		line = append(line, f...)
	}
	s.line = append(line, tail...)
	return s.line
}

// ContinueWith returns a reader for a resumed stream: a new body, the same last event id and
// reconnection delay. It is s itself, reset, so that its buffers are reused.
func (s *Reader) ContinueWith(r io.Reader) *Reader {
	s.r.Reset(r)
	s.skipLF = false
	s.err = nil
	s.idBuffer = s.LastEventID // the cut event's id, if any, was never applied
	return s
}
