package probe

import (
	"bufio"
	"context"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
)

// legacyWait bounds the look at a GET stream for the older transport's first event.
const legacyWait = 3 * time.Second

// legacySSE reports whether the URL serves the older HTTP+SSE transport of MCP 2024-11-05,
// whose GET opens an event stream that first names, in an "endpoint" event, where to POST.
// It reads at most the stream's first 4 KiB, for at most legacyWait.
func (p *Prober) legacySSE(ctx context.Context, token string) bool {
	ctx, cancel := context.WithTimeout(ctx, legacyWait)
	defer cancel()
	req, err := p.newRequest(ctx, http.MethodGet, nil, token)
	if err != nil {
		return false
	}
	req.Header.Set("Accept", "text/event-stream") // what the older transport's GET asks for
	resp, err := p.http.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); resp.StatusCode != http.StatusOK || mt != "text/event-stream" {
		return false
	}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 4096))
	for sc.Scan() {
		if name, ok := strings.CutPrefix(sc.Text(), "event:"); ok && strings.TrimSpace(name) == "endpoint" {
			return true
		}
	}
	return false
}
