package proxy

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// soakServer is a Streamable HTTP server for the in-process soak: sessions, tokens that
// expire 8 s after first use, injected 503s, response streams cut after their first event
// (and resumable with Last-Event-ID), a standalone stream per session, and session expiry.
type soakServer struct {
	mu          sync.Mutex
	nextSession int
	sessions    map[string]chan struct{} // closed when the session expires
	firstSeen   map[string]time.Time     // token -> first use
	replay      map[string]string        // event id -> the event that followed it
	fail503     int
	cuts        int
	cutAbrupt   bool
	stats       struct{ calls, unavailable, cut, resumed, expired, unauthorized int }
}

const soakTokenLife = 8 * time.Second

func newSoakServer() *soakServer {
	return &soakServer{sessions: map[string]chan struct{}{}, firstSeen: map[string]time.Time{}, replay: map[string]string{}}
}

func (s *soakServer) expireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, done := range s.sessions {
		close(done)
		delete(s.sessions, id)
		s.stats.expired++
	}
}

func (s *soakServer) inject(fail503, cuts int, abrupt bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail503 += fail503
	s.cuts += cuts
	s.cutAbrupt = abrupt
}

func (s *soakServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	sid := r.Header.Get("Mcp-Session-Id")
	s.mu.Lock()
	first, ok := s.firstSeen[token]
	if !ok {
		first = time.Now()
		s.firstSeen[token] = first
	}
	if time.Since(first) > soakTokenLife {
		s.stats.unauthorized++
		s.mu.Unlock()
		http.Error(w, "token expired", http.StatusUnauthorized)
		return
	}
	if s.fail503 > 0 {
		s.fail503--
		s.stats.unavailable++
		s.mu.Unlock()
		w.Header().Set("Retry-After", "0")
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	method := gjson.GetBytes(body, "method").String()
	if r.Method == http.MethodPost && method == "initialize" {
		s.nextSession++
		sid = fmt.Sprintf("soak-%d", s.nextSession)
		s.sessions[sid] = make(chan struct{})
		s.mu.Unlock()
		w.Header().Set("Mcp-Session-Id", sid)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, initializeResult(gjson.GetBytes(body, "id").Raw))
		return
	}
	done, ok := s.sessions[sid]
	if !ok {
		s.mu.Unlock()
		http.Error(w, "session not found", http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodDelete:
		close(done)
		delete(s.sessions, sid)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodGet:
		last := r.Header.Get("Last-Event-ID")
		ev, resumed := s.replay[last]
		delete(s.replay, last)
		if resumed {
			s.stats.resumed++
		}
		s.mu.Unlock()
		sse := startSSE(w)
		if resumed {
			_, _ = io.WriteString(w, ev)
			return
		}
		select { // the standalone stream stays open until the session or the request ends
		case <-done:
		case <-r.Context().Done():
		}
		_ = sse
		return
	}
	id := gjson.GetBytes(body, "id")
	if !id.Exists() {
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		return
	}
	s.stats.calls++
	n := s.stats.calls
	cut, abrupt := s.cuts > 0, s.cutAbrupt
	if cut {
		s.cuts--
		s.stats.cut++
	}
	evID := fmt.Sprintf("%s/%d", sid, n)
	result := fmt.Sprintf("id: %s-2\ndata: {\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"echo\":%s}}\n\n", evID, id.Raw, gjson.GetBytes(body, "params.text").Raw)
	if cut {
		s.replay[evID+"-1"] = result
	}
	s.mu.Unlock()
	sse := startSSE(w)
	sse.event(evID+"-1", `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":`+id.Raw+`,"progress":1}}`)
	if cut {
		if abrupt {
			panic(http.ErrAbortHandler)
		}
		return
	}
	_, _ = io.WriteString(w, result)
}

// TestSoakInProcess runs a Relay in process for E2E_SOAK_DURATION (20 s by default): 16
// callers, tokens that expire after 8 s, 503s, cut response streams and session expiry
// every quarter of the run (at most every minute). Every call must be answered with its own
// result, the goroutine count must be where it was once the load stops, and back to
// the baseline once the relay has stopped.
func TestSoakInProcess(t *testing.T) {
	dur := 20 * time.Second
	if v := os.Getenv("E2E_SOAK_DURATION"); v != "" {
		var err error
		if dur, err = time.ParseDuration(v); err != nil || dur < 5*time.Second {
			t.Fatalf("E2E_SOAK_DURATION=%q: want a duration of at least 5s", v)
		}
	}
	every := min(dur/4, time.Minute)
	base := runtime.NumGoroutine()

	srv := newSoakServer()
	hc := http.DefaultTransport.(*http.Transport).Clone()
	h := startRelay(t, srv, func(c *Config) { c.Transport = hc })
	h.initialize()

	// Route stdout lines to the callers by id; progress notifications are dropped.
	var waitMu sync.Mutex
	waiting := map[string]chan string{}
	routed := make(chan struct{})
	go func() {
		defer close(routed)
		for line := range h.lines {
			if gjson.GetBytes(line, "method").Exists() {
				continue
			}
			id := gjson.GetBytes(line, "id").String()
			waitMu.Lock()
			ch := waiting[id]
			delete(waiting, id)
			waitMu.Unlock()
			if ch == nil {
				t.Errorf("answer to no pending request: %s", line)
				continue
			}
			ch <- string(line)
		}
	}()
	var pause sync.RWMutex // held for writing while sessions expire between calls
	var calls, failures atomic.Int64
	call := func(c, i int) error {
		id := fmt.Sprintf("c%d-%d", c, i)
		text := fmt.Sprintf("caller %d call %d", c, i)
		ch := make(chan string, 1)
		waitMu.Lock()
		waiting[id] = ch
		waitMu.Unlock()
		pause.RLock()
		defer pause.RUnlock()
		h.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%q,"method":"tools/call","params":{"text":%q}}`, id, text))
		select {
		case line := <-ch:
			if got := gjson.Get(line, "result.echo").String(); got != text {
				return fmt.Errorf("%s answered with %s", id, line)
			}
			return nil
		case <-time.After(30 * time.Second):
			return fmt.Errorf("%s: no answer within 30 s", id)
		}
	}

	// The idle goroutine count of a running relay, once a call went through (so the
	// standalone stream is open too) and the idle connections are closed.
	if err := call(-1, 0); err != nil {
		t.Fatal(err)
	}
	hc.CloseIdleConnections()
	idle := settledGoroutines()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond): // pacing, not synchronisation
				}
				calls.Add(1)
				if err := call(c, i); err != nil {
					if failures.Add(1) <= 10 {
						t.Error(err)
					}
				}
			}
		})
	}
	var samples []int
	wg.Go(func() {
		tick := time.NewTicker(every / 3)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			samples = append(samples, runtime.NumGoroutine())
			switch n % 3 {
			case 0:
				srv.inject(4, 0, false) // with a 401 and a renewal on top, still within the 7 tries a message gets
			case 1:
				srv.inject(0, 4, n%2 == 0)
			case 2:
				pause.Lock()
				srv.expireSessions()
				pause.Unlock()
			}
		}
	})
	time.Sleep(dur) // the soak's length, not synchronisation
	close(stop)
	wg.Wait()

	srv.mu.Lock()
	st := srv.stats
	srv.mu.Unlock()
	t.Logf("%v: %d calls, %d failed; server: %+v; goroutines idle %d, during %v", dur, calls.Load(), failures.Load(), st, idle, samples)
	if st.unavailable == 0 || st.cut == 0 || st.resumed == 0 || st.expired == 0 || st.unauthorized == 0 {
		t.Errorf("a fault never fired: %+v", st)
	}

	hc.CloseIdleConnections()
	if got := waitGoroutines(idle+4, 10*time.Second); got > idle+4 {
		t.Errorf("goroutines %d once the load stopped, %d before it", got, idle)
	}
	h.closeAndWait()
	h.srv.Close()
	<-routed
	if got := waitGoroutines(base+2, 10*time.Second); got > base+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines %d after the relay stopped, baseline %d:\n%s", got, base, buf[:runtime.Stack(buf, true)])
	}
}

// settledGoroutines polls the goroutine count until it holds still for 100 ms (at most 5 s).
func settledGoroutines() int {
	deadline := time.Now().Add(5 * time.Second)
	n, since := runtime.NumGoroutine(), time.Now()
	for time.Now().Before(deadline) && time.Since(since) < 100*time.Millisecond {
		time.Sleep(10 * time.Millisecond)
		if m := runtime.NumGoroutine(); m != n {
			n, since = m, time.Now()
		}
	}
	return n
}

// waitGoroutines polls until at most want goroutines run or d passes, and returns the count.
func waitGoroutines(want int, d time.Duration) int {
	deadline := time.Now().Add(d)
	for {
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}
