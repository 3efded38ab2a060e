package proxy

import (
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
