package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tidwall/gjson"
)

const testToken = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2lnbmF0dXJl"

// seen is one request the fake server received.
type seen struct {
	Method, RPC, Auth, Session, Protocol string
}

// fakeMCP is a scripted Streamable HTTP server: answer decides the reply to each request and
// every request is recorded.
type fakeMCP struct {
	t      *testing.T
	srv    *httptest.Server
	answer func(w http.ResponseWriter, r *http.Request, rpc string, body []byte)

	mu   sync.Mutex
	seen []seen
}

func newFakeMCP(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, rpc string, body []byte)) *fakeMCP {
	f := &fakeMCP{t: t, answer: answer}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rpc := gjson.GetBytes(body, "method").String()
		f.mu.Lock()
		f.seen = append(f.seen, seen{r.Method, rpc, r.Header.Get("Authorization"), r.Header.Get("Mcp-Session-Id"), r.Header.Get("MCP-Protocol-Version")})
		f.mu.Unlock()
		f.answer(w, r, rpc, body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeMCP) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.seen...)
}

func (f *fakeMCP) prober(path string) *Prober {
	f.t.Helper()
	p, err := New(Config{URL: f.srv.URL + path, ClientVersion: "test"})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// mcpServer answers like a healthy stateful server; tools is the number of tools, listed two
// per page.
func mcpServer(sse bool, tools int) func(w http.ResponseWriter, r *http.Request, rpc string, body []byte) {
	return func(w http.ResponseWriter, r *http.Request, rpc string, body []byte) {
		id := gjson.GetBytes(body, "id").Raw
		reply := func(result string) {
			msg := fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":%s}`, id, result)
			if sse {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprintf(w, "id: 1\ndata: \n\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{}}\n\nevent: message\ndata: %s\n\n", msg)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, msg)
		}
		switch {
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case rpc == "initialize":
			w.Header().Set("Mcp-Session-Id", "sess-1")
			reply(`{"protocolVersion":"2025-06-18","serverInfo":{"name":"fake","version":"1.2.3"},"capabilities":{"tools":{},"logging":{}}}`)
		case rpc == "notifications/initialized":
			w.WriteHeader(http.StatusAccepted)
		case rpc == "tools/list":
			start := 0
			fmt.Sscan(gjson.GetBytes(body, "params.cursor").String(), &start)
			var names []string
			for i := start; i < min(start+2, tools); i++ {
				names = append(names, fmt.Sprintf(`{"name":"tool%d"}`, i))
			}
			next := ""
			if start+2 < tools {
				next = fmt.Sprintf(`,"nextCursor":"%d"`, start+2)
			}
			reply(`{"tools":[` + strings.Join(names, ",") + `]` + next + `}`)
		default:
			http.Error(w, "unexpected", http.StatusBadRequest)
		}
	}
}

func status(code int, contentType, body string) func(w http.ResponseWriter, r *http.Request, rpc string, _ []byte) {
	return func(w http.ResponseWriter, r *http.Request, rpc string, _ []byte) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		if code/100 == 3 {
			w.Header().Set("Location", "https://elsewhere.example/mcp")
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// brief is the part of a step the tests compare.
type brief struct {
	Verdict Verdict
	Found   string // a substring of Found
	Remedy  string // a substring of Remedy
}

func check(t *testing.T, st Step, want brief) {
	t.Helper()
	got := brief{Verdict: st.Verdict, Found: want.Found, Remedy: want.Remedy}
	if !strings.Contains(st.Found, want.Found) {
		got.Found = st.Found
	}
	if !strings.Contains(st.Remedy, want.Remedy) {
		got.Remedy = st.Remedy
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("step %s (-want +got):\n%s", st.Name, diff)
	}
	if strings.Contains(fmt.Sprint(st), testToken) {
		t.Errorf("step %s shows the token: %+v", st.Name, st)
	}
}

func TestCheckReachability(t *testing.T) {
	for _, tc := range []struct {
		desc   string
		answer func(http.ResponseWriter, *http.Request, string, []byte)
		want   brief
	}{
		{"403 from IAM", status(403, "text/html", "<h1>Error: Forbidden</h1>"), brief{OK, "HTTP 403 Forbidden: the service exists and requires authentication", ""}},
		{"401", status(401, "", ""), brief{OK, "HTTP 401 Unauthorized: the service exists", ""}},
		{"404", status(404, "text/plain", "404 page not found"), brief{Fail, "HTTP 404 Not Found: nothing is served at this host and path", "check --url"}},
		{"public", mcpServer(false, 1), brief{Warn, "HTTP 200 OK without a token: the service is public", "--no-allow-unauthenticated"}},
		{"cold start", status(503, "text/plain", "Service Unavailable"), brief{Warn, `HTTP 503 Service Unavailable: the front end or the service is failing (server said: "Service Unavailable")`, ""}},
		{"public app says 405", status(405, "", ""), brief{Warn, "HTTP 405 Method Not Allowed without a token: the request reached an application", ""}},
		{"redirect", status(302, "", ""), brief{Fail, "HTTP 302 Found: redirected to https://elsewhere.example/mcp", "final URL"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			f := newFakeMCP(t, tc.answer)
			st := f.prober("/mcp").CheckReachability(t.Context())
			check(t, st, tc.want)
			for _, r := range f.requests() {
				if r.Auth != "" {
					t.Errorf("reachability sent Authorization %q", r.Auth)
				}
			}
		})
	}
}

func TestReachabilityDeletesPublicSession(t *testing.T) {
	f := newFakeMCP(t, mcpServer(false, 1))
	f.prober("/mcp").CheckReachability(t.Context())
	want := []seen{{Method: "POST", RPC: "initialize"}, {Method: "DELETE", Session: "sess-1"}}
	if diff := cmp.Diff(want, f.requests()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestNetworkFailures(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(tlsSrv.Close)
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(block); slow.Close() })
	dnsClient := &http.Client{Transport: &http.Transport{DialContext: func(_ context.Context, _, addr string) (net.Conn, error) {
		return nil, &net.DNSError{Err: "no such host", Name: "svc.invalid", IsNotFound: true}
	}}}

	for _, tc := range []struct {
		desc    string
		url     string
		client  *http.Client
		timeout time.Duration
		kind    NetErrorKind
		found   string
	}{
		{desc: "refused", url: closedURL + "/mcp", kind: Refused, found: "connection refused: nothing listens at 127.0.0.1:"},
		{desc: "tls", url: tlsSrv.URL + "/mcp", kind: TLS, found: "TLS: handshake with 127.0.0.1:"},
		{desc: "dns", url: "https://svc.invalid/mcp", client: dnsClient, kind: DNS, found: "DNS: cannot resolve svc.invalid"},
		{desc: "timeout", url: slow.URL + "/mcp", timeout: 50 * time.Millisecond, kind: Timeout, found: "timeout: 127.0.0.1:"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			p, err := New(Config{URL: tc.url, HTTPClient: tc.client})
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			for _, st := range []Step{p.CheckReachability(ctx), func() Step { st, _ := p.CheckInitialize(ctx, testToken, Hints{}); return st }()} {
				check(t, st, brief{Fail, tc.found, ""})
				if got := st.Details["error_kind"]; got != string(tc.kind) {
					t.Errorf("%s: error_kind = %v, want %s", st.Name, got, tc.kind)
				}
				if st.Remedy == "" {
					t.Errorf("%s: no remedy", st.Name)
				}
			}
		})
	}
}

func TestCheckInitialize(t *testing.T) {
	hints := Hints{
		Unauthorized: Explanation{Found: "aud was A, service expects B", Remedy: "use --audience B"},
		Forbidden:    Explanation{Found: "x@y lacks roles/run.invoker", Remedy: "gcloud run services add-iam-policy-binding"},
	}
	for _, tc := range []struct {
		desc   string
		answer func(http.ResponseWriter, *http.Request, string, []byte)
		hints  Hints
		want   brief
		// lookForSSE: after a 404 or 405 the prober GETs the URL to look for the older
		// HTTP+SSE transport.
		lookForSSE bool
	}{
		{desc: "json", answer: mcpServer(false, 0), want: brief{OK, `HTTP 200 OK in `, ""}},
		{desc: "sse after a notification", answer: mcpServer(true, 0), want: brief{OK, `server "fake" 1.2.3, protocol 2025-06-18, a session id came back, capabilities: logging, tools`, ""}},
		{desc: "401 with hints", answer: status(401, "text/html", "<p>Unauthorized</p>"), hints: hints, want: brief{Fail, "HTTP 401 Unauthorized: aud was A, service expects B", "use --audience B"}},
		{desc: "401 generic", answer: status(401, "", ""), want: brief{Fail, "HTTP 401 Unauthorized: the token was refused", "check the audience"}},
		{desc: "403 with hints", answer: status(403, "", ""), hints: hints, want: brief{Fail, "HTTP 403 Forbidden: x@y lacks roles/run.invoker", "add-iam-policy-binding"}},
		{desc: "404", answer: status(404, "text/plain", "404 page not found"), want: brief{Fail, `HTTP 404 Not Found: the URL does not point at the MCP endpoint (server said: "404 page not found")`, "/mcp"}, lookForSSE: true},
		{desc: "405", answer: status(405, "", ""), want: brief{Fail, "HTTP 405 Method Not Allowed: the URL does not point at the MCP endpoint", "/mcp"}, lookForSSE: true},
		{desc: "older HTTP+SSE transport", answer: legacySSEServer, want: brief{Fail, "HTTP 404 Not Found: this URL serves the older HTTP+SSE transport (MCP 2024-11-05", "Streamable HTTP (MCP 2025-03-26 and later) only"}, lookForSSE: true},
		{desc: "406", answer: status(406, "", ""), want: brief{Fail, "HTTP 406 Not Acceptable: the server does not speak Streamable HTTP", "Streamable HTTP transport"}},
		{desc: "415", answer: status(415, "", ""), want: brief{Fail, "HTTP 415 Unsupported Media Type: the server does not speak Streamable HTTP", "Streamable HTTP"}},
		{desc: "html page", answer: status(200, "text/html", "<html>hello</html>"), want: brief{Fail, `HTTP 200 OK with Content-Type "text/html": not a Streamable HTTP MCP endpoint`, "not a web page"}},
		{desc: "json-rpc error", answer: status(200, "application/json", `{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"unsupported protocol"}}`), want: brief{Fail, "initialize failed: JSON-RPC error -32602: unsupported protocol", "logs"}},
		{desc: "server echoes the token", answer: func(w http.ResponseWriter, r *http.Request, _ string, _ []byte) {
			http.Error(w, "bad header "+r.Header.Get("Authorization"), http.StatusInternalServerError)
		}, want: brief{Fail, `HTTP 500 Internal Server Error (server said: "bad header Bearer [redacted]")`, ""}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			f := newFakeMCP(t, tc.answer)
			st, sess := f.prober("/mcp").CheckInitialize(t.Context(), testToken, tc.hints)
			check(t, st, tc.want)
			if (sess != nil) != (tc.want.Verdict == OK) {
				t.Errorf("session = %+v with verdict %s", sess, st.Verdict)
			}
			got := f.requests()
			want := []string{http.MethodPost}
			if tc.lookForSSE {
				want = append(want, http.MethodGet)
			}
			if len(got) != len(want) {
				t.Fatalf("requests = %+v, want %v", got, want)
			}
			for i, r := range got {
				if r.Method != want[i] || r.Auth != "Bearer "+testToken {
					t.Errorf("request %d = %+v, want %s with the bearer token", i, r, want[i])
				}
			}
		})
	}
}

// legacySSEServer is an MCP server of the older HTTP+SSE transport at the probed path: POST
// there is not served, GET opens a stream whose first event names the POST endpoint.
func legacySSEServer(w http.ResponseWriter, r *http.Request, _ string, _ []byte) {
	if r.Method != http.MethodGet {
		http.Error(w, "Cannot POST /mcp", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	io.WriteString(w, "event: endpoint\ndata: /messages?sessionId=1\n\n")
	w.(http.Flusher).Flush()
	<-r.Context().Done() // the stream stays open, as a real one does
}

func TestCheckTools(t *testing.T) {
	for _, tc := range []struct {
		desc   string
		answer func(http.ResponseWriter, *http.Request, string, []byte)
		want   brief
	}{
		{desc: "paginated sse", answer: mcpServer(true, 5), want: brief{OK, "5 tools: tool0, tool1, tool2, tool3, tool4; session deleted (HTTP 204 No Content)", ""}},
		{desc: "no tools", answer: mcpServer(false, 0), want: brief{OK, "0 tools; session deleted", ""}},
		{desc: "method not found", answer: func(w http.ResponseWriter, r *http.Request, rpc string, body []byte) {
			if rpc == "tools/list" {
				status(200, "application/json", `{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"Method not found"}}`)(w, r, rpc, body)
				return
			}
			mcpServer(false, 0)(w, r, rpc, body)
		}, want: brief{Warn, "the server offers no tools", ""}},
		{desc: "session lost", answer: func(w http.ResponseWriter, r *http.Request, rpc string, body []byte) {
			if rpc == "tools/list" {
				http.NotFound(w, r)
				return
			}
			mcpServer(false, 0)(w, r, rpc, body)
		}, want: brief{Fail, "the server forgot the session it had just created", "session-affinity"}},
		{desc: "delete not allowed", answer: func(w http.ResponseWriter, r *http.Request, rpc string, body []byte) {
			if r.Method == http.MethodDelete {
				w.WriteHeader(http.StatusMethodNotAllowed)
				return
			}
			mcpServer(false, 1)(w, r, rpc, body)
		}, want: brief{OK, "1 tools: tool0; the server does not let clients delete sessions", ""}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			f := newFakeMCP(t, tc.answer)
			p := f.prober("/mcp")
			sess := &Session{ID: "sess-1", ProtocolVersion: "2025-06-18"}
			st := p.CheckTools(t.Context(), testToken, sess, Hints{})
			check(t, st, tc.want)
			reqs := f.requests()
			if last := reqs[len(reqs)-1]; last.Method != http.MethodDelete {
				t.Errorf("last request = %+v, want the DELETE", last)
			}
			for _, r := range reqs {
				if r.Session != "sess-1" || r.Protocol != "2025-06-18" || r.Auth != "Bearer "+testToken {
					t.Errorf("request %+v lacks the session id, protocol version or token", r)
				}
			}
		})
	}
}

func TestReportOutput(t *testing.T) {
	var r Report
	r.URL = "https://svc/mcp"
	r.Add(Step{Name: "configuration", Checked: "configuration", Verdict: OK, Found: "fine"})
	r.Add(Step{Name: "token", Checked: "token", Verdict: Warn, Found: "aud differs", Note: "Cloud Run may refuse it"})
	if !r.OK {
		t.Fatal("a warning must not fail the report")
	}
	r.Add(Step{Name: "initialize", Checked: "MCP initialize", Verdict: Fail, Found: "HTTP 403", Remedy: "grant it"})
	r.Add(Step{Name: "tools", Checked: "tools/list", Verdict: Skip, Found: "not run: initialize failed"})
	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	want := `ok    1. configuration: fine
warn  2. token: aud differs
          note: Cloud Run may refuse it
FAIL  3. MCP initialize: HTTP 403
          fix:  grant it
skip  4. tools/list: not run: initialize failed
FAILED: step 3 failed; the fix is under it.
`
	if diff := cmp.Diff(want, text.String()); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}
	var js strings.Builder
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal([]byte(js.String()), &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
	if back.OK {
		t.Error("ok = true in JSON of a failed report")
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"ftp://x/mcp", "://", "https:///mcp"} {
		if _, err := New(Config{URL: u}); err == nil {
			t.Errorf("New(%q) succeeded", u)
		}
	}
}

var _ error = (*NetError)(nil)

func TestNetErrorUnwrap(t *testing.T) {
	inner := errors.New("boom")
	if !errors.Is(&NetError{Kind: Connection, Host: "h", Err: inner}, inner) {
		t.Error("NetError does not unwrap")
	}
}
