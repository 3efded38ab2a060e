package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tidwall/gjson"
)

const initializeReq = `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

func initializeResult(id string) string {
	return `{"jsonrpc":"2.0","id":` + id + `,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"fake","version":"1"}}}`
}

func TestRelayIsByteExactBothWays(t *testing.T) {
	tests := []struct {
		desc     string
		request  string
		response string // what the server sends; may span lines
		want     string // what the client must see
	}{
		{
			desc:     "unusual key order, spacing and escapes",
			request:  `{"params" : {"b":1, "a":"\u00e9\u2028x"},  "id":"abc","method":"tools/call" ,"jsonrpc":"2.0"}`,
			response: `{"result":{"z":1,"a":"\u00e9\/"} ,"id":"abc", "jsonrpc":"2.0"}`,
			want:     `{"result":{"z":1,"a":"\u00e9\/"} ,"id":"abc", "jsonrpc":"2.0"}`,
		},
		{
			desc:     "raw U+2028 and astral characters",
			request:  "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"echo\",\"params\":{\"s\":\"a\u2028b\U0001F600c\"}}",
			response: "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"s\":\"a\u2028b\U0001F600c\"}}",
			want:     "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"s\":\"a\u2028b\U0001F600c\"}}",
		},
		{
			desc:     "integers beyond 2^53 and an id that is a huge number",
			request:  `{"jsonrpc":"2.0","id":12345678901234567890123,"method":"m","params":{"n":9007199254740993,"f":1.0e+400}}`,
			response: `{"jsonrpc":"2.0","id":12345678901234567890123,"result":{"n":9007199254740993,"f":1.0e+400}}`,
			want:     `{"jsonrpc":"2.0","id":12345678901234567890123,"result":{"n":9007199254740993,"f":1.0e+400}}`,
		},
		{
			desc:     "pretty-printed response becomes one line, nothing else changes",
			request:  `{"jsonrpc":"2.0","id":1,"method":"m"}`,
			response: "{\r\n  \"jsonrpc\": \"2.0\",\n  \"id\": 1,\n  \"result\": {\"a\": [1, 2]}\n}\n",
			want:     `{  "jsonrpc": "2.0",  "id": 1,  "result": {"a": [1, 2]}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got := make(chan []byte, 1)
			h := startRelay(t, jsonHandler(func(_ *http.Request, body []byte) []byte {
				got <- body
				return []byte(tc.response)
			}))
			h.send(tc.request)
			if diff := cmp.Diff(tc.want, h.next()); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.request, string(<-got)); diff != "" {
				t.Errorf("request body upstream (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRelayCarries16MiBBothWays(t *testing.T) {
	big := strings.Repeat("x", 16<<20)
	request := `{"jsonrpc":"2.0","id":1,"method":"echo","params":{"s":"` + big + `"}}`
	h := startRelay(t, jsonHandler(func(_ *http.Request, body []byte) []byte {
		s := gjson.GetBytes(body, "params.s").String()
		return []byte(`{"jsonrpc":"2.0","id":1,"result":{"s":"` + s + `"}}`)
	}))
	h.send(request)
	got := h.next()
	want := `{"jsonrpc":"2.0","id":1,"result":{"s":"` + big + `"}}`
	if got != want {
		t.Fatalf("got %d bytes, want %d bytes equal to the request's payload", len(got), len(want))
	}
}

// All requests are upstream at once and the server answers them last first, one at a time:
// each answer must reach stdout while the requests sent before it are still unanswered.
func TestRelayAnswersConcurrentRequestsOutOfOrder(t *testing.T) {
	const n = 100
	var arrived sync.WaitGroup
	arrived.Add(n)
	release := make([]chan struct{}, n)
	for i := range release {
		release[i] = make(chan struct{})
	}
	h := startRelay(t, jsonHandler(func(_ *http.Request, body []byte) []byte {
		id := gjson.GetBytes(body, "id").Raw
		arrived.Done()
		<-release[gjson.Parse(id).Int()]
		return []byte(`{"jsonrpc":"2.0","id":` + id + `,"result":{"echo":` + id + `}}`)
	}))
	for i := range n {
		h.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"echo"}`, i))
	}
	arrived.Wait()
	for want := int64(n - 1); want >= 0; want-- {
		close(release[want])
		line := h.next()
		if id, echo := gjson.Get(line, "id").Int(), gjson.Get(line, "result.echo").Int(); id != want || echo != want {
			t.Fatalf("answer %s, want id %d (answers last first, while %d requests wait)", line, want, want)
		}
	}
}

func TestSSENotificationsReachStdoutBeforeTheResult(t *testing.T) {
	proceed := make(chan struct{})
	h := startRelay(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		s := startSSE(w)
		s.event("", `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}`)
		<-proceed // the result only comes once the client has seen the progress
		s.event("", `{"jsonrpc":"2.0","id":"slow","result":{}}`)
	}))
	h.send(`{"jsonrpc":"2.0","id":"slow","method":"tools/call"}`)
	if got := h.next(); !strings.Contains(got, "notifications/progress") {
		t.Fatalf("first line %s, want the progress notification", got)
	}
	close(proceed)
	if got := h.next(); got != `{"jsonrpc":"2.0","id":"slow","result":{}}` {
		t.Fatalf("second line %s, want the result", got)
	}
}

// sessionServer is a scripted Streamable HTTP server with sessions, an optional standalone
// stream script and counters.
type sessionServer struct {
	mu          sync.Mutex
	sessions    map[string]bool
	nextSession int
	initializes int
	deletes     []string
	gets        []string // Last-Event-ID of each GET
	onGet       func(w http.ResponseWriter, r *http.Request, n int)
	onCall      func(w http.ResponseWriter, r *http.Request, body []byte) bool
	headers     []http.Header
}

func newSessionServer() *sessionServer { return &sessionServer{sessions: map[string]bool{}} }

func (s *sessionServer) expireAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions = map[string]bool{}
}

func (s *sessionServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.headers = append(s.headers, r.Header.Clone())
	sid := r.Header.Get("Mcp-Session-Id")
	method := gjson.GetBytes(body, "method").String()
	if r.Method == http.MethodPost && method == "initialize" {
		s.nextSession++
		s.initializes++
		sid = fmt.Sprintf("session-%d", s.nextSession)
		s.sessions[sid] = true
		s.mu.Unlock()
		w.Header().Set("Mcp-Session-Id", sid)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, initializeResult(gjson.GetBytes(body, "id").Raw))
		return
	}
	if !s.sessions[sid] {
		s.mu.Unlock()
		http.Error(w, "session not found", http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodDelete:
		s.deletes = append(s.deletes, sid)
		delete(s.sessions, sid)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodGet:
		s.gets = append(s.gets, r.Header.Get("Last-Event-ID"))
		n, onGet := len(s.gets), s.onGet
		s.mu.Unlock()
		if onGet == nil {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		onGet(w, r, n)
		return
	}
	onCall := s.onCall
	s.mu.Unlock()
	if !gjson.GetBytes(body, "id").Exists() {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if onCall != nil && onCall(w, r, body) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"method":%q}}`, gjson.GetBytes(body, "id").Raw, method)
}

func (h *harness) initialize() {
	h.t.Helper()
	h.send(initializeReq)
	if got, want := h.next(), initializeResult("0"); got != want {
		h.t.Fatalf("initialize: got %s, want %s", got, want)
	}
	h.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
}

func TestStandaloneStreamIsOpenedAndReopened(t *testing.T) {
	srv := newSessionServer()
	srv.onGet = func(w http.ResponseWriter, r *http.Request, n int) {
		s := startSSE(w)
		switch n {
		case 1:
			s.event("e1", `{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`)
			// ends: the relay must reopen
		case 2:
			s.event("e2", `{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"x"}}`)
			<-r.Context().Done()
		}
	}
	h := startRelay(t, srv)
	h.initialize()
	if got := h.next(); got != `{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}` {
		t.Fatalf("first GET stream message: %s", got)
	}
	if got := h.next(); !strings.Contains(got, "resources/updated") {
		t.Fatalf("reopened GET stream message: %s", got)
	}
	srv.mu.Lock()
	gets := append([]string(nil), srv.gets...)
	srv.mu.Unlock()
	if diff := cmp.Diff([]string{"", "e1"}, gets); diff != "" {
		t.Errorf("Last-Event-ID of the GETs (-want +got):\n%s", diff)
	}
	h.closeAndWait()
}

func TestCutPostStreamIsResumedWithoutDuplicates(t *testing.T) {
	srv := newSessionServer()
	srv.onCall = func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		s := startSSE(w)
		fmt.Fprint(w, "retry: 5\n\n")
		s.event("1", `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}`)
		return true // the stream ends without the response
	}
	srv.onGet = func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Header.Get("Last-Event-ID") != "1" {
			w.WriteHeader(http.StatusMethodNotAllowed) // the standalone stream: none
			return
		}
		s := startSSE(w)
		s.event("2", `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":2}}`)
		s.event("3", `{"jsonrpc":"2.0","id":5,"result":{"done":true}}`)
	}
	h := startRelay(t, srv)
	h.initialize()
	h.send(`{"jsonrpc":"2.0","id":5,"method":"tools/call"}`)
	want := []string{
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}`,
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":2}}`,
		`{"jsonrpc":"2.0","id":5,"result":{"done":true}}`,
	}
	var got []string
	for range want {
		got = append(got, h.next())
	}
	h.closeAndWait()
	got = append(got, h.rest()...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
}

func TestSessionExpiryStartsANewSessionOnce(t *testing.T) {
	srv := newSessionServer()
	h := startRelay(t, srv)
	h.initialize()
	h.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if got := h.next(); got != `{"jsonrpc":"2.0","id":1,"result":{"method":"tools/list"}}` {
		t.Fatalf("before expiry: %s", got)
	}
	srv.expireAll()
	h.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call"}`)
	if got := h.next(); got != `{"jsonrpc":"2.0","id":2,"result":{"method":"tools/call"}}` {
		t.Fatalf("after expiry: %s", got)
	}
	h.closeAndWait()
	if rest := h.rest(); len(rest) != 0 {
		t.Errorf("unexpected extra stdout (a replayed initialize response?): %q", rest)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.initializes != 2 {
		t.Errorf("initialize requests upstream: %d, want 2", srv.initializes)
	}
	if diff := cmp.Diff([]string{"session-2"}, srv.deletes); diff != "" {
		t.Errorf("DELETEd sessions (-want +got):\n%s", diff)
	}
}

func TestRejectedTokenIsRefreshedOnceThenReported(t *testing.T) {
	tests := []struct {
		desc          string
		rejections    int32
		status        int
		wantSuccess   bool
		wantInMessage string
	}{
		{desc: "401 once", rejections: 1, status: 401, wantSuccess: true},
		{desc: "401 twice", rejections: 2, status: 401, wantInMessage: "HTTP 401"},
		{desc: "403 twice", rejections: 2, status: 403, wantInMessage: "roles/run.invoker"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			var left atomic.Int32
			left.Store(tc.rejections)
			var seen sync.Map
			h := startRelay(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen.Store(r.Header.Get("Authorization"), true)
				if left.Add(-1) >= 0 {
					w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
					w.WriteHeader(tc.status)
					fmt.Fprintf(w, "<html><body><h1>Error: Forbidden</h1><p>Your client does not have permission. %s</p></body></html>", r.Header.Get("Authorization"))
					return
				}
				jsonHandler(func(_ *http.Request, body []byte) []byte {
					return []byte(`{"jsonrpc":"2.0","id":"x-1","result":{}}`)
				})(w, r)
			}))
			h.send(`{"jsonrpc":"2.0","id":"x-1","method":"tools/list"}`)
			got := h.next()
			fetches, rejections := h.tokens.counts()
			if tc.wantSuccess {
				if got != `{"jsonrpc":"2.0","id":"x-1","result":{}}` {
					t.Fatalf("got %s, want the result", got)
				}
				if fetches != 2 || rejections != 1 {
					t.Errorf("fetches=%d rejections=%d, want 2 and 1", fetches, rejections)
				}
				return
			}
			if id, code := gjson.Get(got, "id").Raw, gjson.Get(got, "error.code").Int(); id != `"x-1"` || code != -32603 {
				t.Fatalf("got %s, want error -32603 with id \"x-1\"", got)
			}
			if msg := gjson.Get(got, "error.message").String(); !strings.Contains(msg, tc.wantInMessage) || strings.Contains(msg, "secret-token") {
				t.Errorf("error message %q: want it to contain %q and no token", msg, tc.wantInMessage)
			}
			if rejections != 2 {
				t.Errorf("rejections=%d, want 2", rejections)
			}
			if _, ok := seen.Load("Bearer secret-token-2"); !ok {
				t.Errorf("the retry did not carry the fresh token")
			}
		})
	}
}

func TestTransientFailuresAreRetried(t *testing.T) {
	t.Run("two 503s with Retry-After: 1 then success", func(t *testing.T) {
		var calls atomic.Int32
		h := startRelay(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) <= 2 {
				w.Header().Set("Retry-After", "1")
				http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
		}), func(c *Config) { c.RetryWaitMax = 2 * time.Second })
		start := time.Now()
		h.send(`{"jsonrpc":"2.0","id":1,"method":"ping"}`)
		if got := h.next(); got != `{"jsonrpc":"2.0","id":1,"result":{}}` {
			t.Fatalf("got %s", got)
		}
		if elapsed := time.Since(start); elapsed < 2*time.Second {
			t.Errorf("answered after %v: Retry-After: 1 twice was not honoured", elapsed)
		}
		if n := calls.Load(); n != 3 {
			t.Errorf("upstream calls %d, want 3", n)
		}
	})
	t.Run("503 forever: an error within the budget", func(t *testing.T) {
		var calls atomic.Int32
		h := startRelay(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			http.Error(w, "<html><body>Service <b>Unavailable</b></body></html>", http.StatusServiceUnavailable)
		}))
		h.send(`{"jsonrpc":"2.0","id":"a","method":"ping"}`)
		got := h.next()
		if gjson.Get(got, "id").Raw != `"a"` || gjson.Get(got, "error.code").Int() != -32603 {
			t.Fatalf("got %s, want -32603 for id \"a\"", got)
		}
		if msg := gjson.Get(got, "error.message").String(); !strings.Contains(msg, "HTTP 503") || !strings.Contains(msg, "Service Unavailable") || strings.Contains(msg, "<b>") {
			t.Errorf("message %q: want the status and the body's text without tags", msg)
		}
		if n := calls.Load(); n != 7 {
			t.Errorf("upstream calls %d, want 7 (1 + 6 retries)", n)
		}
	})
	t.Run("a slow 504 is the handler timing out: not replayed", func(t *testing.T) {
		var calls atomic.Int32
		h := startRelay(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			time.Sleep(100 * time.Millisecond)
			http.Error(w, "upstream request timeout", http.StatusGatewayTimeout)
		}), func(c *Config) { c.GatewayRetryWindow = 50 * time.Millisecond })
		h.send(`{"jsonrpc":"2.0","id":4,"method":"tools/call"}`)
		if got := h.next(); !strings.Contains(gjson.Get(got, "error.message").String(), "HTTP 504") {
			t.Fatalf("got %s", got)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("upstream calls %d, want 1", n)
		}
	})
	t.Run("a quick 502 is the front end: retried", func(t *testing.T) {
		var calls atomic.Int32
		h := startRelay(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				http.Error(w, "bad gateway", http.StatusBadGateway)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":4,"result":{}}`)
		}))
		h.send(`{"jsonrpc":"2.0","id":4,"method":"tools/call"}`)
		if got := h.next(); got != `{"jsonrpc":"2.0","id":4,"result":{}}` {
			t.Fatalf("got %s", got)
		}
	})
	t.Run("connection refused: retried, then an error naming it", func(t *testing.T) {
		h := startRelay(t, http.NotFoundHandler())
		h.srv.Close()
		h.send(`{"jsonrpc":"2.0","id":3,"method":"ping"}`)
		got := h.next()
		if gjson.Get(got, "id").Raw != "3" || !strings.Contains(gjson.Get(got, "error.message").String(), "connection refused") {
			t.Fatalf("got %s", got)
		}
	})
}

func TestMalformedLinesGetParseErrorsAndTheRelayGoesOn(t *testing.T) {
	srv := newSessionServer()
	h := startRelay(t, srv)
	for _, bad := range []string{`not json`, `{"jsonrpc":"2.0",`, `42`, `"str"`, "\xff\xfe"} {
		h.send(bad)
		got := h.next()
		if gjson.Get(got, "id").Raw != "null" || gjson.Get(got, "error.code").Int() != -32700 {
			t.Errorf("line %q: got %s, want a -32700 error with id null", bad, got)
		}
	}
	h.send("")
	h.send("   ")
	h.initialize()
	h.send(`{"jsonrpc":"2.0","id":9,"method":"tools/list"}`)
	if got := h.next(); gjson.Get(got, "id").Int() != 9 || !gjson.Get(got, "result").Exists() {
		t.Fatalf("after bad lines: %s", got)
	}
	h.closeAndWait()
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if diff := cmp.Diff([]string{"session-1"}, srv.deletes); diff != "" {
		t.Errorf("stdin EOF must DELETE the session (-want +got):\n%s", diff)
	}
}

func TestBatchIsPostedAsIsAndAnswered(t *testing.T) {
	batch := `[{"jsonrpc":"2.0","id":1,"method":"a"}, {"jsonrpc":"2.0","method":"n"},{"jsonrpc":"2.0","id":"two","method":"b"}]`
	got := make(chan string, 1)
	h := startRelay(t, jsonHandler(func(_ *http.Request, body []byte) []byte {
		got <- string(body)
		return []byte(`[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","id":"two","result":{}}]`)
	}))
	h.send(batch)
	if line := h.next(); line != `[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","id":"two","result":{}}]` {
		t.Errorf("stdout: %s", line)
	}
	if body := <-got; body != batch {
		t.Errorf("upstream body %s, want the batch as sent", body)
	}

	t.Run("failed batch: an error for each request", func(t *testing.T) {
		h := startRelay(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}))
		h.send(batch)
		line := h.next()
		ids := gjson.Get(line, "#.id").Raw
		codes := gjson.Get(line, "#.error.code").Raw
		if ids != `[1,"two"]` || codes != `[-32603,-32603]` {
			t.Errorf("got %s", line)
		}
	})
}

func TestHeadersOnEveryRequest(t *testing.T) {
	srv := newSessionServer()
	h := startRelay(t, srv)
	h.initialize()
	h.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	h.next()
	h.closeAndWait()
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for i, hd := range srv.headers {
		if hd.Get("Authorization") != "Bearer secret-token-1" || hd.Get("User-Agent") != "mcp-cloudrun-proxy/test" {
			t.Errorf("request %d: Authorization %q User-Agent %q", i, hd.Get("Authorization"), hd.Get("User-Agent"))
		}
		if i == 0 {
			if hd.Get("Mcp-Session-Id") != "" || hd.Get("MCP-Protocol-Version") != "" {
				t.Errorf("initialize carried session headers: %v", hd)
			}
			if hd.Get("Accept") != "application/json, text/event-stream" || hd.Get("Content-Type") != "application/json" {
				t.Errorf("initialize Accept %q Content-Type %q", hd.Get("Accept"), hd.Get("Content-Type"))
			}
			continue
		}
		if hd.Get("Mcp-Session-Id") != "session-1" || hd.Get("MCP-Protocol-Version") != "2025-06-18" {
			t.Errorf("request %d: session %q version %q", i, hd.Get("Mcp-Session-Id"), hd.Get("MCP-Protocol-Version"))
		}
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	other := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) })
	h := startRelay(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			other(w, r)
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	}))
	h.send(`{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	got := h.next()
	if msg := gjson.Get(got, "error.message").String(); !strings.Contains(msg, "307") || !strings.Contains(msg, "/elsewhere") {
		t.Errorf("got %s, want an error naming the redirect", got)
	}
	if elsewhere.Load() != 0 {
		t.Error("the redirect was followed")
	}
}

func TestServerGarbageBecomesAnError(t *testing.T) {
	h := startRelay(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"resu`)
	}))
	h.send(`{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	got := h.next()
	if gjson.Get(got, "error.code").Int() != -32603 || !strings.Contains(gjson.Get(got, "error.message").String(), "invalid JSON") {
		t.Errorf("got %s", got)
	}
}

func TestDebugLogsCarryNoToken(t *testing.T) {
	srv := newSessionServer()
	h := startRelay(t, srv)
	h.initialize()
	h.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	h.next()
	h.closeAndWait()
	logs := h.logs.String()
	if !strings.Contains(logs, "method=tools/list id=1 status=200 bytes=46") {
		t.Errorf("debug logs lack the per-message line:\n%s", logs)
	}
	if strings.Contains(logs, "secret-token") || strings.Contains(logs, "Bearer") {
		t.Errorf("logs contain a token:\n%s", logs)
	}
}

func TestGoroutinesReturnToBaselineAfter1000Requests(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		srv := newSessionServer()
		h := startRelay(t, srv)
		h.initialize()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				h.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/list"}`, i))
			}
		}()
		for range 1000 {
			h.next()
		}
		wg.Wait()
		h.closeAndWait()
		h.srv.Close()
	}()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines %d, baseline %d:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStdoutCarriesOnlyWholeLines(t *testing.T) {
	// Many concurrent large answers must never interleave.
	h := startRelay(t, jsonHandler(func(_ *http.Request, body []byte) []byte {
		id := gjson.GetBytes(body, "id").Raw
		return []byte(`{"jsonrpc":"2.0","id":` + id + `,"result":{"s":"` + strings.Repeat(id, 50000) + `"}}`)
	}))
	for i := range 20 {
		h.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"x"}`, i))
	}
	for range 20 {
		line := h.next()
		id := gjson.Get(line, "id").Raw
		if !gjson.Valid(line) || !bytes.Equal([]byte(gjson.Get(line, "result.s").String()), bytes.Repeat([]byte(id), 50000)) {
			t.Fatalf("line for id %s is not whole", id)
		}
	}
}

func TestNothingOvertakesTheHandshake(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan string, 10)
	var mu sync.Mutex
	var order []string
	record := func(event string) {
		mu.Lock()
		order = append(order, event)
		mu.Unlock()
	}
	h := startRelay(t, jsonHandler(func(_ *http.Request, body []byte) []byte {
		method := gjson.GetBytes(body, "method").String()
		record(method)
		arrived <- method
		switch method {
		case "initialize":
			<-release
			record("initialize answered")
			return []byte(initializeResult("0"))
		case "notifications/initialized":
			time.Sleep(20 * time.Millisecond) // a slow 202 must still come first
			record("initialized accepted")
			return nil
		}
		return []byte(`{"jsonrpc":"2.0","id":1,"result":{}}`)
	}))
	// A piped client writes everything at once, without waiting for the initialize result.
	h.send(initializeReq)
	h.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	h.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if got := <-arrived; got != "initialize" {
		t.Fatalf("first upstream message %q", got)
	}
	// Give a relay that does not wait the chance to send the rest early.
	select {
	case got := <-arrived:
		t.Errorf("%s reached the server before initialize was answered", got)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	h.next()
	h.next()
	mu.Lock()
	defer mu.Unlock()
	want := []string{"initialize", "initialize answered", "notifications/initialized", "initialized accepted", "tools/list"}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("order upstream (-want +got):\n%s", diff)
	}
}

func TestKeptAliveConnectionClosedByServerIsRetried(t *testing.T) {
	var calls atomic.Int32
	h := startRelay(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		if n == 2 {
			// The idle-close race: the server drops the kept-alive connection as the
			// request arrives, before answering.
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{}}`, gjson.GetBytes(body, "id").Raw)
	}))
	h.send(`{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	if got := h.next(); got != `{"jsonrpc":"2.0","id":1,"result":{}}` {
		t.Fatalf("first call: %s", got)
	}
	h.send(`{"jsonrpc":"2.0","id":2,"method":"ping"}`) // goes out on the kept-alive connection
	if got := h.next(); got != `{"jsonrpc":"2.0","id":2,"result":{}}` {
		t.Fatalf("second call: %s", got)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("upstream calls %d, want 3", n)
	}
}

func TestFreshConnectionClosedByServerIsNotReplayed(t *testing.T) {
	var calls atomic.Int32
	h := startRelay(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	h.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call"}`)
	if got := h.next(); gjson.Get(got, "error.code").Int() != -32603 {
		t.Fatalf("got %s, want an error", got)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("upstream calls %d: a request that reached the server on a new connection must not be replayed", n)
	}
}

func TestOnIdleIsCalledOncePerQuietSpell(t *testing.T) {
	const quiet = 50 * time.Millisecond
	idle := make(chan time.Time, 10)
	hold := make(chan struct{})
	h := startRelay(t, jsonHandler(func(_ *http.Request, body []byte) []byte {
		if gjson.GetBytes(body, "id").Int() == 1 {
			<-hold
		}
		return []byte(`{"jsonrpc":"2.0","id":` + gjson.GetBytes(body, "id").Raw + `,"result":{}}`)
	}), func(c *Config) {
		c.IdleAfter = quiet
		c.OnIdle = func() { idle <- time.Now() }
	})
	noCall := func(why string) {
		t.Helper()
		select {
		case <-idle:
			t.Fatalf("OnIdle was called %s", why)
		case <-time.After(4 * quiet):
		}
	}
	h.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call"}`)
	noCall("while a request was in flight")
	close(hold)
	h.next()
	answered := time.Now()
	select {
	case at := <-idle:
		if d := at.Sub(answered); d < quiet*8/10 {
			t.Fatalf("OnIdle came %v after the answer, want about %v", d, quiet)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnIdle was not called after the burst")
	}
	noCall("twice in one quiet spell")
	for i := 2; i <= 4; i++ {
		h.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call"}`, i))
		h.next()
	}
	select {
	case <-idle:
	case <-time.After(5 * time.Second):
		t.Fatal("OnIdle was not called after the second burst")
	}
	noCall("twice after the second burst")
}

// idleClosedOnce is a transport whose first request meets net/http's race with a server
// closing a kept-alive connection while it was idle: the connection is reported reused and
// the request fails with net/http's error for that (its type is unexported; its text is the
// same). Later requests go to next.
type idleClosedOnce struct {
	next  http.RoundTripper
	tries atomic.Int32
}

func (t *idleClosedOnce) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.tries.Add(1) == 1 {
		if trace := httptrace.ContextClientTrace(req.Context()); trace != nil && trace.GotConn != nil {
			trace.GotConn(httptrace.GotConnInfo{Reused: true, WasIdle: true})
		}
		return nil, errors.New(errServerClosedIdleText)
	}
	return t.next.RoundTrip(req)
}

// A request that met a kept-alive connection the server had just closed while idle never
// reached the server: it is sent again (the e2e test that stops the fake Cloud Run's
// keep-alives met this now and then, and the client got the error).
func TestIdleConnectionClosedBeforeTheRequestIsRetried(t *testing.T) {
	var calls atomic.Int32
	next := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(next.CloseIdleConnections)
	base := &idleClosedOnce{next: next}
	h := startRelay(t, jsonHandler(func(_ *http.Request, body []byte) []byte {
		calls.Add(1)
		return fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%s,"result":{}}`, gjson.GetBytes(body, "id").Raw)
	}), func(c *Config) { c.Transport = base })
	h.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call"}`)
	if got := h.next(); got != `{"jsonrpc":"2.0","id":1,"result":{}}` {
		t.Fatalf("got %s, want the answer after one retry", got)
	}
	if n, tries := calls.Load(), base.tries.Load(); n != 1 || tries != 2 {
		t.Errorf("server saw %d calls over %d tries, want 1 over 2", n, tries)
	}
}
