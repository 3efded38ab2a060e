// Regression tests for bugs found in review; each failed before its fix.
package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// Once, renewSession held sess.mu across network I/O and Run's stopStreams needed sess.mu before
// cancelWork, which is what would end that I/O: shutdown deadlocks.
func TestShutdownDuringRenewalDoesNotHang(t *testing.T) {
	release := make(chan struct{})
	replayArrived := make(chan struct{}, 1)
	srv := newSessionServer()
	var inits atomic.Int32
	h := startRelay(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.Header.Get("Mcp-Session-Id") == "" {
			body, _ := io.ReadAll(r.Body)
			if gjson.GetBytes(body, "method").String() == "initialize" && inits.Add(1) == 2 {
				replayArrived <- struct{}{}
				select { // the replayed initialize hangs (cold start, stuck instance...)
				case <-release:
				case <-r.Context().Done():
				}
				return
			}
			r.Body = io.NopCloser(strings.NewReader(string(body)))
		}
		srv.ServeHTTP(w, r)
	}), func(c *Config) { c.ShutdownGrace = 200 * time.Millisecond })
	t.Cleanup(func() { close(release) })
	h.initialize()
	srv.expireAll()
	h.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	<-replayArrived
	h.stdin.Close()
	select {
	case <-h.done:
		h.done <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return 5s after stdin EOF (grace 200ms): deadlock stopStreams vs renewSession")
	}
}

// the resumption budget is never reset when a resumed stream makes progress, so a long
// call whose server closes the stream periodically (SEP-1699 polling, Cloud Run timeout) fails.
func TestResumeBudgetResetsOnProgress(t *testing.T) {
	srv := newSessionServer()
	srv.onCall = func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		s := startSSE(w)
		fmt.Fprint(w, "retry: 5\n\n")
		s.event("0", `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":0}}`)
		return true
	}
	srv.onGet = func(w http.ResponseWriter, r *http.Request, n int) {
		last := r.Header.Get("Last-Event-ID")
		if last == "" {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		var k int
		fmt.Sscan(last, &k)
		s := startSSE(w)
		if k+1 < 8 {
			s.event(fmt.Sprint(k+1), fmt.Sprintf(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":%d}}`, k+1))
			return // closes again: progress was made each time
		}
		s.event("8", `{"jsonrpc":"2.0","id":5,"result":{"done":true}}`)
	}
	h := startRelay(t, srv)
	h.initialize()
	h.send(`{"jsonrpc":"2.0","id":5,"method":"tools/call"}`)
	for {
		line := h.next()
		if gjson.Get(line, "id").Exists() {
			if !gjson.Get(line, "result.done").Bool() {
				t.Fatalf("long call with steady progress failed: %s", line)
			}
			return
		}
	}
}

// an id field of an event that never completed (stream cut mid-event) must not become the
// Last-Event-ID (WHATWG: the last event ID string is only set on dispatch).
func TestPartialEventDoesNotAdvanceLastEventID(t *testing.T) {
	srv := newSessionServer()
	srv.onCall = func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		s := startSSE(w)
		fmt.Fprint(w, "retry: 5\n\n")
		s.event("1", `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}`)
		fmt.Fprint(w, "id: 2\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,\"res")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // connection cut mid-event
	}
	var mu sync.Mutex
	var gets []string
	srv.onGet = func(w http.ResponseWriter, r *http.Request, n int) {
		last := r.Header.Get("Last-Event-ID")
		if last == "" {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		mu.Lock()
		gets = append(gets, last)
		mu.Unlock()
		s := startSSE(w)
		if last == "1" { // replay what came after event 1
			s.event("2", `{"jsonrpc":"2.0","id":5,"result":{"done":true}}`)
		}
		// after "2": nothing left to replay
	}
	h := startRelay(t, srv, func(c *Config) { c.ResumeMax = 2 })
	h.initialize()
	h.send(`{"jsonrpc":"2.0","id":5,"method":"tools/call"}`)
	h.next() // progress 1
	got := h.next()
	mu.Lock()
	defer mu.Unlock()
	if !gjson.Get(got, "result.done").Bool() {
		t.Fatalf("response lost; resume GETs sent Last-Event-ID %q; client got %s", gets, got)
	}
}

// a batch whose stream ends after some responses: the client gets the already-delivered
// response a second time as an error.
func TestBatchFailureDoesNotDuplicateAnswers(t *testing.T) {
	h := startRelay(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		s := startSSE(w)
		s.event("", `{"jsonrpc":"2.0","id":1,"result":{}}`)
		// ends before the response to "two"
	}))
	h.send(`[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","id":"two","method":"b"}]`)
	first, second := h.next(), h.next()
	ids := gjson.Get(second, "#.id").Raw
	if strings.Contains(ids, "1") {
		t.Fatalf("id 1 answered twice:\n%s\n%s", first, second)
	}
}

// priming events as go-sdk v1.8.0 writes them ("event: prime\nid: X\ndata: \n\n") are logged
// as dropped non-JSON data at WARN on every call.
func TestPrimingEventIsNotAWarning(t *testing.T) {
	h := startRelay(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		s := startSSE(w)
		fmt.Fprint(w, "event: prime\nid: s1_0\ndata: \n\n")
		s.event("s1_1", `{"jsonrpc":"2.0","id":1,"result":{}}`)
	}))
	h.send(`{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	h.next()
	if logs := h.logs.String(); strings.Contains(logs, "level=WARN") {
		t.Fatalf("priming event produced a warning:\n%s", logs)
	}
}

// a request the client cancels keeps its upstream POST stream (and goroutine) open for as
// long as the server keeps it open (TS SDK sends no response to a cancelled request).
func TestCancelledRequestReleasesItsStream(t *testing.T) {
	closed := make(chan struct{})
	arrived := make(chan struct{})
	h := startRelay(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		body, _ := io.ReadAll(r.Body)
		if !gjson.GetBytes(body, "id").Exists() {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		startSSE(w)
		close(arrived)
		select {
		case <-r.Context().Done():
			close(closed)
		case <-time.After(3 * time.Second):
		}
	}))
	h.send(`{"jsonrpc":"2.0","id":"c1","method":"tools/call"}`)
	<-arrived
	h.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"c1"}}`)
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("upstream stream of a cancelled request still open 2s after notifications/cancelled")
	}
	h.closeAndWait()
	if rest := h.rest(); len(rest) != 0 {
		t.Errorf("a cancelled request must get no answer from the relay, got %q", rest)
	}
}

// base delay: no backoff, no give-up (go-sdk stops after MaxRetries reconnects without progress).
func TestStandaloneEmptyStreamsBackOff(t *testing.T) {
	srv := newSessionServer()
	var mu sync.Mutex
	var at []time.Time
	srv.onGet = func(w http.ResponseWriter, r *http.Request, n int) {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		startSSE(w)
	}
	const base = 5 * time.Millisecond
	h := startRelay(t, srv, func(c *Config) { c.ReconnectDelay = base })
	h.initialize()
	waitFor(t, "the relay to give up on a stream that ends at once without messages", func() bool {
		return strings.Contains(h.logs.String(), "giving up on the standalone stream")
	})
	mu.Lock()
	defer mu.Unlock()
	if len(at) != 8 {
		t.Errorf("%d GETs before giving up, want 8", len(at))
	}
	// Each reopening waits at least the backoff for its attempt: base << attempt (capped).
	for i := 1; i < len(at); i++ {
		if gap, want := at[i].Sub(at[i-1]), base<<min(i, 6); gap < want {
			t.Errorf("GET %d came %v after the previous one, want at least %v (backoff)", i+1, gap, want)
		}
	}
}
