package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"sync"
)

// readLines is readLinesLimit with the default limit, skipping over-long lines silently.
func readLines(r io.Reader, emit func([]byte) bool) error {
	return readLinesLimit(r, 0, emit, nil)
}

// readLinesLimit calls emit with each newline-delimited line of r, without its line ending,
// until r ends or emit returns false. Each line is a fresh slice the callee owns. A final
// line without a newline is still emitted. Blank lines are skipped.
//
// A line longer than max bytes (zero or less means defaultMaxMessageSize) is not emitted:
// it is read and discarded up to its newline, holding no more than max bytes of it, and
// tooLong, if not nil, is called with its size instead, so that the caller can answer it
// (the relay answers -32700 with id null: the id cannot be known). Reading stops when
// tooLong returns false.
func readLinesLimit(r io.Reader, max int, emit func([]byte) bool, tooLong func(size int64) bool) error {
	return readLinesBuf(r, 64*1024, max, emit, tooLong)
}

// readLinesBuf is readLinesLimit with a read buffer of bufSize bytes, which tests make small.
func readLinesBuf(r io.Reader, bufSize, max int, emit func([]byte) bool, tooLong func(size int64) bool) error {
	if max <= 0 {
		max = defaultMaxMessageSize
	}
	br := bufio.NewReaderSize(r, bufSize)
	var lr lineAssembler
	for {
		chunk, err := br.ReadSlice('\n')
		line, size, done := lr.add(chunk, errors.Is(err, bufio.ErrBufferFull), max)
		if done {
			more := true
			switch {
			case size > int64(max):
				more = tooLong == nil || tooLong(size)
			case len(bytes.TrimSpace(line)) > 0:
				more = emit(line)
			}
			if !more {
				return nil
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// A lineAssembler joins the chunks of one line. A line longer than a reader's buffer is
// collected in fragments and joined once into a slice of its exact size: growing one slice
// by append would allocate about five times the line and keep up to a quarter more than it
// needs. Once a line is known to be over the limit its fragments are dropped and the rest
// is only counted.
type lineAssembler struct {
	frags     [][]byte
	fragBytes int
	// skipping is set while an over-long line is discarded; skipped counts its bytes, and
	// lastCR says whether the last of them was a CR, which may start the CRLF ending.
	skipping bool
	skipped  int64
	lastCR   bool
}

// add takes the next chunk of input; more is set when the chunk does not end the line. When
// the line is complete, add returns it without its ending (nil if over the limit), its
// size, and done.
func (lr *lineAssembler) add(chunk []byte, more bool, max int) (line []byte, size int64, done bool) {
	if lr.skipping {
		lr.skipped += int64(len(chunk))
		if more {
			lr.lastCR = len(chunk) > 0 && chunk[len(chunk)-1] == '\r'
			return nil, 0, false
		}
		lr.skipping = false
		ending := len(chunk) - len(trimLineEnding(chunk))
		if lr.lastCR && (len(chunk) == 0 || string(chunk) == "\n") {
			ending++ // the line's final CR came in the previous chunk
		}
		return nil, lr.skipped - int64(ending), true
	}
	if more {
		// A '\r' at the end of chunk may belong to a CRLF, hence the 1 byte of slack.
		if lr.fragBytes+len(chunk) > max+1 {
			lr.skipping, lr.skipped = true, int64(lr.fragBytes+len(chunk))
			lr.lastCR = chunk[len(chunk)-1] == '\r'
			lr.frags, lr.fragBytes = nil, 0
			return nil, 0, false
		}
		lr.frags = append(lr.frags, bytes.Clone(chunk))
		lr.fragBytes += len(chunk)
		return nil, 0, false
	}
	if lr.frags != nil {
		line = make([]byte, 0, lr.fragBytes+len(chunk))
		for _, f := range lr.frags {
			line = append(line, f...)
		}
		line = append(line, chunk...)
		lr.frags, lr.fragBytes = nil, 0
	} else if len(chunk) > 0 {
		line = bytes.Clone(chunk)
	}
	line = trimLineEnding(line)
	if len(line) > max {
		return nil, int64(len(line)), true
	}
	return line, int64(len(line)), true
}

func trimLineEnding(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	return bytes.TrimSuffix(line, []byte{'\r'})
}

// A lineWriter writes whole messages to stdout, one per line. It is the only writer of
// stdout. Messages that are ready together go out in one write: the writer that finds none
// under way writes for all, after letting the other ready goroutines add theirs.
type lineWriter struct {
	log *slog.Logger
	w   io.Writer

	mu       sync.Mutex
	drained  *sync.Cond // pending shrank or writing failed
	pending  []byte     // lines waiting for the write under way
	spare    []byte
	writing  bool
	writeErr error
	// failed is closed when a write fails: the client has gone and the relay shuts down.
	failed chan struct{}
}

// maxPending bounds the lines waiting for stdout: a client that stops reading holds its
// answers' writers here, and through them the reading of stdin.
const maxPending = 1 << 20

// directWrite is the size from which a message is written from where it is rather than
// copied into the pending lines.
const directWrite = 64 << 10

func newLineWriter(w io.Writer, log *slog.Logger) *lineWriter {
	lw := &lineWriter{w: w, log: log, failed: make(chan struct{})}
	lw.drained = sync.NewCond(&lw.mu)
	return lw
}

// writeMessage writes msg and a newline. A JSON text holds raw CR or LF bytes only as
// insignificant whitespace (inside strings they must be escaped), so dropping them keeps the
// message byte-for-byte otherwise and makes it one line. msg is not used after it returns.
func (lw *lineWriter) writeMessage(msg []byte) {
	msg = bytes.TrimSpace(msg)
	if bytes.ContainsAny(msg, "\r\n") {
		msg = stripLineBreaks(msg)
	}
	lw.mu.Lock()
	for lw.writeErr == nil && len(lw.pending) > 0 && len(lw.pending)+len(msg) >= maxPending {
		lw.drained.Wait()
	}
	if lw.writeErr != nil {
		lw.mu.Unlock()
		return
	}
	direct := !lw.writing && len(msg) >= directWrite
	if !direct {
		lw.pending = append(append(lw.pending, msg...), '\n')
	}
	if lw.writing {
		lw.mu.Unlock() // the writer under way takes it along
		return
	}
	lw.writing = true
	lw.mu.Unlock()
	if direct {
		lw.write(msg, []byte{'\n'})
	} else {
		// Let the answers that became ready with this one join its write.
		runtime.Gosched()
	}
	lw.writePending()
}

// writePending writes the pending lines until none is left; the caller is the writer.
func (lw *lineWriter) writePending() {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	for len(lw.pending) > 0 && lw.writeErr == nil {
		buf := lw.pending
		lw.pending = lw.spare[:0]
		lw.mu.Unlock()
		lw.write(buf)
		lw.mu.Lock()
		if cap(buf) <= maxPending {
			lw.spare = buf[:0]
		}
		lw.drained.Broadcast()
	}
	lw.writing = false
}

// write writes parts in order, and on failure makes every later message a no-op.
func (lw *lineWriter) write(parts ...[]byte) {
	for _, p := range parts {
		if _, err := lw.w.Write(p); err != nil {
			lw.mu.Lock()
			defer lw.mu.Unlock()
			if lw.writeErr == nil {
				lw.writeErr = err
				lw.log.Warn("cannot write to stdout; dropping messages from now on", "error", err)
				close(lw.failed)
			}
			lw.drained.Broadcast()
			return
		}
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
