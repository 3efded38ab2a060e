package proxy

import (
	"bytes"
	"context"
	"io"
	"time"
)

// How much of a response body is read, and for how long, when it is closed before its end,
// so that its connection can serve the next request.
const (
	drainMaxBytes = 256 << 10
	drainMaxWait  = 250 * time.Millisecond
)

// A drainingBody reads a response body to its end before closing it. Go's transport reuses a
// connection only when the body was read to io.EOF; the relay stops reading a POST's event
// stream as soon as the owed responses arrived, usually just before the end of the stream
// (the terminating chunk), and each such close cost a new connection: a dial and a new
// server-side connection on about one call in ten, more under load. The wait is bounded: a
// server that keeps the stream open gets its request cancelled after drainMaxWait, as closing
// it did before.
type drainingBody struct {
	io.ReadCloser
	cancel context.CancelFunc // cancels the request, which unblocks a read
}

func (b *drainingBody) Close() error {
	t := time.AfterFunc(drainMaxWait, b.cancel)
	_, _ = io.Copy(io.Discard, io.LimitReader(b.ReadCloser, drainMaxBytes))
	t.Stop()
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// A heldBody is a request body that the request itself does not keep alive: Go's transport
// and the response keep the *http.Request (and its GetBody) until the response body is
// read, and with it the whole body, which for a large message doubles what the relay holds
// while the answer streams in. Each attempt reads a fresh releasingReader; b is dropped once
// no attempt is left.
type heldBody struct {
	b []byte
}

func (h *heldBody) reader() (io.ReadCloser, error) {
	if len(h.b) <= smallBody {
		// Go's transport writes a body it knows to be in memory with the request's headers,
		// in one write: one system call fewer per message, and no half request on the wire.
		return io.NopCloser(bytes.NewReader(h.b)), nil
	}
	return io.NopCloser(&releasingReader{b: h.b}), nil
}

// smallBody is the size up to which a request body is sent with its headers in one write;
// keeping it alive until the answer is read costs little below it.
const smallBody = 64 << 10

// A releasingReader reads b and lets it go at its end.
type releasingReader struct {
	b []byte
}

func (r *releasingReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		r.b = nil
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	if len(r.b) == 0 {
		r.b = nil
	}
	return n, nil
}
