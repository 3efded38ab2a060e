package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"sync"
)

// readLines calls emit with each newline-delimited line of r, without its line ending, until
// r ends or emit returns false. Lines may be of any size. Each line is a fresh slice the
// callee owns. A final line without a newline is still emitted. Blank lines are skipped.
func readLines(r io.Reader, emit func([]byte) bool) error {
	br := bufio.NewReaderSize(r, 64*1024)
	// A line longer than br's buffer is collected in fragments and joined once into a slice
	// of its exact size: growing one slice by append would allocate about five times the
	// line and keep up to a quarter more than it needs.
	var frags [][]byte
	fragBytes := 0
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			frags = append(frags, bytes.Clone(chunk))
			fragBytes += len(chunk)
			continue
		}
		var line []byte
		if frags != nil {
			line = make([]byte, 0, fragBytes+len(chunk))
			for _, f := range frags {
				line = append(line, f...)
			}
			line = append(line, chunk...)
			frags, fragBytes = nil, 0
		} else if len(chunk) > 0 {
			line = bytes.Clone(chunk)
		}
		line = trimLineEnding(line)
		if len(bytes.TrimSpace(line)) > 0 {
			if !emit(line) {
				return nil
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func trimLineEnding(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	return bytes.TrimSuffix(line, []byte{'\r'})
}

// A lineWriter writes whole messages to stdout, one per line. It is the only writer of
// stdout: a mutex keeps messages from interleaving.
type lineWriter struct {
	log *slog.Logger

	mu       sync.Mutex
	w        *bufio.Writer
	writeErr error
}

func newLineWriter(w io.Writer, log *slog.Logger) *lineWriter {
	return &lineWriter{w: bufio.NewWriterSize(w, 64*1024), log: log}
}

// writeMessage writes msg and a newline. A JSON text holds raw CR or LF bytes only as
// insignificant whitespace (inside strings they must be escaped), so dropping them keeps the
// message byte-for-byte otherwise and makes it one line.
func (lw *lineWriter) writeMessage(msg []byte) {
	msg = bytes.TrimSpace(msg)
	if bytes.ContainsAny(msg, "\r\n") {
		msg = stripLineBreaks(msg)
	}
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.writeErr != nil {
		return
	}
	_, err := lw.w.Write(msg)
	if err == nil {
		err = lw.w.WriteByte('\n')
	}
	if err == nil {
		err = lw.w.Flush()
	}
	if err != nil {
		lw.writeErr = err
		lw.log.Warn("cannot write to stdout; dropping messages from now on", "error", err)
	}
}

func (lw *lineWriter) err() error {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.writeErr
}

func stripLineBreaks(msg []byte) []byte {
	out := make([]byte, 0, len(msg))
	for _, b := range msg {
		if b != '\r' && b != '\n' {
			out = append(out, b)
		}
	}
	return out
}
