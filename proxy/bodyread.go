package proxy

import (
	"errors"
	"fmt"
	"io"
)

// defaultMaxMessageSize is the largest message the relay holds, from stdin or from the
// server, when no other limit is configured: 64 MiB, far above any MCP message seen in
// practice (tool results of a few MiB), yet small enough that a few at once cannot exhaust a
// laptop's memory.
const defaultMaxMessageSize = 64 << 20

// bodyPrealloc is the most readBodyLimit reserves on the word of a Content-Length header
// alone; beyond it the buffer grows only as bytes actually arrive.
const bodyPrealloc = 1 << 20

// errBodyTooLarge is wrapped by the error of readBodyLimit for a body above its maximum.
var errBodyTooLarge = errors.New("response body too large")

// readBodyLimit reads all of r, a body that claims contentLength bytes (-1 if unknown), and
// fails with an error wrapping errBodyTooLarge as soon as it has read more than max bytes
// (max <= 0 means defaultMaxMessageSize). It trusts contentLength for no more than
// bodyPrealloc bytes of buffer: a server that claims 2 GiB and sends 10 bytes costs 10
// bytes, not 2 GiB. A body shorter than its claimed length is returned with
// io.ErrUnexpectedEOF.
func readBodyLimit(r io.Reader, contentLength int64, max int64) ([]byte, error) {
	if max <= 0 {
		max = defaultMaxMessageSize
	}
	if contentLength > max {
		return nil, fmt.Errorf("%w: it claims %d bytes, more than the limit of %d", errBodyTooLarge, contentLength, max)
	}
	size := int64(512)
	if contentLength > 0 {
		// One byte more than claimed, so that reading to the end needs no growth.
		size = min(contentLength+1, bodyPrealloc)
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = growBody(buf, contentLength, max)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > max {
			return nil, fmt.Errorf("%w: more than the limit of %d bytes", errBodyTooLarge, max)
		}
		if errors.Is(err, io.EOF) {
			if contentLength > 0 && int64(len(buf)) < contentLength {
				return buf, io.ErrUnexpectedEOF
			}
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// growBody doubles buf's capacity, so that memory stays within four times what has
// arrived, jumping to the claimed length (plus one byte to see the end) when that is near,
// and never past max+1, the byte that proves the body too large.
func growBody(buf []byte, contentLength, max int64) []byte {
	c := 2 * int64(cap(buf))
	// Within one more doubling of the claimed length, go straight to it: doubling to just
	// under it would cost one more copy of the whole body.
	if contentLength > 0 && int64(cap(buf)) < contentLength+1 && contentLength+1 <= 2*c {
		c = contentLength + 1
	}
	c = min(c, max+1)
	grown := make([]byte, len(buf), c)
	copy(grown, buf)
	return grown
}
