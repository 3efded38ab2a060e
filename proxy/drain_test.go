package proxy

import (
	"fmt"
	"io"
	"net/http"
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
