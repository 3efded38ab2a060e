package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// TestConnectionReusedWhenTheStreamEndsAfterTheResponse: a server that ends a POST's event
// stream only after the client has its response (the terminating chunk comes later, as with
// the go-sdk server) must see the calls on a few kept-alive connections, not one per call.
// (The next call may go out while the previous stream is still being drained, so the pool
// can hold two or three.)
func TestConnectionReusedWhenTheStreamEndsAfterTheResponse(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]bool{}
	release := make(chan struct{}, 1)
	h := startRelay(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		conns[r.RemoteAddr] = true
		mu.Unlock()
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		id := gjson.GetBytes(body, "id")
		if !id.Exists() {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		sse := startSSE(w)
		sse.event("1", fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{}}`, id.Raw))
		<-release // the stream ends once the client has read the answer
	}))
	const calls = 40
	for i := range calls {
		h.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/list"}`, i))
		if got, want := h.next(), fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"result":{}}`, i); got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
		release <- struct{}{}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) > calls/8 {
		t.Errorf("%d sequential calls used %d connections, want a few", calls, len(conns))
	}
}

// TestStreamKeptOpenAfterTheResponseIsLetGo: a server that keeps a POST's stream open after
// the response gets the request cancelled shortly after the client has its answer, rather
// than holding the relay's goroutine and connection.
func TestStreamKeptOpenAfterTheResponseIsLetGo(t *testing.T) {
	gone := make(chan struct{})
	h := startRelay(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		sse := startSSE(w)
		sse.event("1", fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{}}`, gjson.GetBytes(body, "id").Raw))
		<-r.Context().Done() // never ends the stream by itself
		close(gone)
	}))
	h.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if got := h.next(); got != `{"jsonrpc":"2.0","id":1,"result":{}}` {
		t.Fatalf("got %s", got)
	}
	select {
	case <-gone:
	case <-time.After(10 * drainMaxWait):
		t.Fatalf("the server's request was not cancelled within %v of the answer", 10*drainMaxWait)
	}
}

// TestRequestBodyWholeOnEveryAttempt: the body the relay lets go of after sending is still
// sent whole, with a Content-Length, on every attempt (here after a 503 and a 401).
func TestRequestBodyWholeOnEveryAttempt(t *testing.T) {
	type seen struct {
		body          string
		contentLength int64
		chunked       bool
	}
	var mu sync.Mutex
	var got []seen
	want := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"text":"` + strings.Repeat("x", 100000) + `"}}`
	h := startRelay(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, seen{string(body), r.ContentLength, len(r.TransferEncoding) > 0})
		n := len(got)
		mu.Unlock()
		switch n {
		case 1:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.WriteHeader(http.StatusUnauthorized)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":7,"result":{}}`)
		}
	}))
	h.send(want)
	if line := h.next(); line != `{"jsonrpc":"2.0","id":7,"result":{}}` {
		t.Fatalf("got %s", line)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("%d attempts, want 3", len(got))
	}
	for i, s := range got {
		if s.body != want || s.contentLength != int64(len(want)) || s.chunked {
			t.Errorf("attempt %d: body of %d bytes (want %d), Content-Length %d, chunked %v", i+1, len(s.body), len(want), s.contentLength, s.chunked)
		}
	}
}
