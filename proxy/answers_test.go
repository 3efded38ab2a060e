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

const (
	initReq  = `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	initNote = `{"jsonrpc":"2.0","method":"notifications/initialized"}`
)

// pushServer is a 2025 server that, like the conformance reference server, sends a request on
// the standalone GET stream as soon as the client's next call arrives, and drops it when no
// stream is open: a relay that lets the call overtake the GET loses it.
type pushServer struct {
	mu     sync.Mutex
	stream chan string // the open standalone stream, if any
}

func (s *pushServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		ch := make(chan string, 4)
		// Like an SDK server, the stream is registered before its headers go out.
		s.mu.Lock()
		s.stream = ch
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for {
			select {
			case msg := <-ch:
				fmt.Fprintf(w, "data: %s\n\n", msg)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	case http.MethodDelete:
		w.WriteHeader(http.StatusOK)
	case http.MethodPost:
		body, _ := io.ReadAll(r.Body)
		m := gjson.ParseBytes(body)
		switch m.Get("method").String() {
		case "initialize":
			// A slow GET handshake would hide the race: make the GET the slower side.
			w.Header().Set("Mcp-Session-Id", "s1")
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, initializeResult(m.Get("id").Raw))
		case "tools/call":
			s.mu.Lock()
			if s.stream != nil {
				s.stream <- `{"jsonrpc":"2.0","id":"srv-1","method":"sampling/createMessage","params":{}}`
			}
			s.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"content":[]}}`, m.Get("id").Raw)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}
}

func TestServerRequestRightAfterInitializeIsNeverLost(t *testing.T) {
	for run := range 20 {
		h := startRelay(t, &pushServer{})
		h.send(initReq)
		h.next()
		h.send(initNote)
		h.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}`)
		var got []string
		for range 2 {
			select {
			case line := <-h.lines:
				got = append(got, string(line))
			case <-time.After(5 * time.Second):
			}
		}
		if !strings.Contains(strings.Join(got, "\n"), "sampling/createMessage") {
			t.Fatalf("run %d: the server request on the standalone stream was lost; stdout:\n%s\nlogs:\n%s", run, strings.Join(got, "\n"), h.logs)
		}
		h.closeAndWait()
	}
}

// The conformance sse-retry shape: the server ends the POST stream after an event id and
// delivers the result on the standalone stream. One answer, and stdin EOF exits at once.
func TestAnswerOnAnotherStreamSettlesTheRequest(t *testing.T) {
	var standalone atomic.Int32
	called := make(chan struct{}, 1)
	srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			if r.Header.Get("Last-Event-ID") == "" && standalone.Add(1) == 1 {
				select {
				case <-called: // the result goes out here once the POST stream has ended
					fmt.Fprint(w, "id: g1\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"content\":[]}}\n\n")
					w.(http.Flusher).Flush()
				case <-r.Context().Done():
				}
			}
			<-r.Context().Done() // resumptions and later streams stay open and quiet
		case http.MethodDelete:
			w.WriteHeader(http.StatusOK)
		case http.MethodPost:
			body, _ := io.ReadAll(r.Body)
			m := gjson.ParseBytes(body)
			switch m.Get("method").String() {
			case "initialize":
				w.Header().Set("Mcp-Session-Id", "s1")
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, initializeResult(m.Get("id").Raw))
			case "tools/call":
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprint(w, "id: p1\nretry: 10\ndata: \n\n")
				called <- struct{}{}
			default:
				w.WriteHeader(http.StatusAccepted)
			}
		}
	})
	h := startRelay(t, srv)
	h.send(initReq)
	h.next()
	h.send(initNote)
	h.send(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x"}}`)
	if got := h.next(); gjson.Get(got, "id").Raw != "7" || !gjson.Get(got, "result").Exists() {
		t.Fatalf("first answer %s, want the result for id 7", got)
	}
	start := time.Now()
	h.closeAndWait()
	if took := time.Since(start); took > time.Second {
		t.Errorf("exit after stdin EOF took %v: the answered request was still waited for", took)
	}
	if rest := h.rest(); len(rest) != 0 {
		t.Errorf("after the result, stdout got %q; want nothing (one answer per id)", rest)
	}
}

// An error the server phrases as JSON-RPC with a 4xx status reaches the client as the server
// said it (code, message, data) with the request's own id, and is not logged as a warning.
func TestServerJSONRPCErrorIsRelayedAsSent(t *testing.T) {
	srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"jsonrpc":"2.0","id":null,"error":{"code":-32022,"message":"Unsupported protocol version","data":{"supported":["2025-11-25"]}}}`)
	})
	h := startRelay(t, srv)
	h.send(`{"jsonrpc":"2.0","id":"d1","method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`)
	want := `{"jsonrpc":"2.0","id":"d1","error":{"code":-32022,"message":"Unsupported protocol version","data":{"supported":["2025-11-25"]}}}`
	if got := h.next(); got != want {
		t.Errorf("answer\n%s\nwant\n%s", got, want)
	}
	h.closeAndWait()
	if strings.Contains(h.logs.String(), "level=WARN") {
		t.Errorf("a server's own error was logged as a warning:\n%s", h.logs)
	}
}

// Every transient cause draws from one budget per message: a rejected token and then 503s
// make 7 tries in all (RetryMax 6), not 2 + 7.
func TestOneRetryBudgetPerMessage(t *testing.T) {
	var tries atomic.Int32
	srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tries.Add(1) == 1 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	h := startRelay(t, srv)
	h.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	got := h.next()
	if !strings.Contains(got, "503") {
		t.Errorf("answer %s, want the last 503 reported", got)
	}
	if n := tries.Load(); n != 7 {
		t.Errorf("%d tries, want 7 (RetryMax 6 shared by the 401 and the 503s)", n)
	}
	h.closeAndWait()
}

// A request still running when the grace period after stdin EOF ends gets an error that says
// why, never Go's "context canceled".
func TestShutdownCancellationSaysSo(t *testing.T) {
	srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // so that the server notices the client hanging up
		<-r.Context().Done()
	})
	h := startRelay(t, srv, func(c *Config) { c.ShutdownGrace = 100 * time.Millisecond })
	h.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow"}}`)
	h.closeAndWait()
	rest := h.rest()
	if len(rest) != 1 || !strings.Contains(rest[0], "shutting down") || strings.Contains(rest[0], "context canceled") {
		t.Errorf("stdout %q, want one error saying the proxy is shutting down", rest)
	}
}

// A 2026 listen stream lives as long as the client keeps it: when the server ends it (as
// Cloud Run does at its request timeout) the same request is sent again, long after any retry
// budget ran out; notifications/cancelled closes it without an answer.
func TestListenStreamIsReopenedAndClosedByTheClient(t *testing.T) {
	const listen = `{"jsonrpc":"2.0","id":"L","method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`
	opened := make(chan http.Header, 4)
	end := make(chan struct{})
	closed := make(chan struct{}, 4)
	var streams atomic.Int32
	srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if gjson.GetBytes(body, "method").String() != "subscriptions/listen" {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		if string(body) != listen {
			t.Errorf("listen body changed: %s", body)
		}
		opened <- r.Header.Clone()
		first := streams.Add(1) == 1
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/subscriptions/acknowledged\"}\n\n")
		w.(http.Flusher).Flush()
		if first {
			<-end // the server ends the first stream without a response
			return
		}
		<-r.Context().Done()
		closed <- struct{}{}
	})
	h := startRelay(t, srv, func(c *Config) { c.RetryBudget = 10 * time.Millisecond })
	h.send(listen)
	hdr := <-opened
	if hdr.Get("Mcp-Method") != "subscriptions/listen" || hdr.Get("Mcp-Protocol-Version") != "2026-07-28" || hdr.Get("Mcp-Session-Id") != "" {
		t.Errorf("listen headers %v", hdr)
	}
	h.next()                          // acknowledged
	time.Sleep(50 * time.Millisecond) // past the retry budget: a listen stream is not a call
	close(end)
	select {
	case <-opened:
	case <-time.After(10 * time.Second):
		t.Fatalf("the listen stream was not reopened after the server ended it\n%s", h.logs)
	}
	h.next() // acknowledged again, on the new stream
	h.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"L"}}`)
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the listen stream stayed open after notifications/cancelled")
	}
	h.closeAndWait()
	if rest := h.rest(); len(rest) != 0 {
		t.Errorf("a cancelled listen got an answer: %q", rest)
	}
}

// A server that refuses the 2026 probe in plain text still gets no warning in the log: every
// 2026-capable client sends server/discover first, and falls back on any error.
func TestDiscoverProbeRefusalIsNotAWarning(t *testing.T) {
	srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		http.Error(w, "Bad Request: Unsupported protocol version", http.StatusBadRequest)
	})
	h := startRelay(t, srv)
	h.send(`{"jsonrpc":"2.0","id":0,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`)
	if got := h.next(); !strings.Contains(got, `"id":0,"error"`) || !strings.Contains(got, "Unsupported protocol version") {
		t.Errorf("answer %s, want an error for id 0 with the server's text", got)
	}
	h.closeAndWait()
	if strings.Contains(h.logs.String(), "level=WARN") {
		t.Errorf("the refused probe was logged as a warning:\n%s", h.logs)
	}
}

// An answer for an id the relay knows nothing of (id null: the server could not read the
// request's id) is relayed as it came; a second answer for an id, even after its request
// ended, is not.
func TestUnknownIDsAreRelayedAndLateDuplicatesDropped(t *testing.T) {
	srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := gjson.GetBytes(body, "id").Raw
		w.Header().Set("Content-Type", "text/event-stream")
		switch gjson.GetBytes(body, "method").String() {
		case "bad":
			fmt.Fprint(w, "data: {\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Invalid Request\"}}\n\n")
			fmt.Fprintf(w, "data: {\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{}}\n\n", id)
		case "first":
			fmt.Fprintf(w, "data: {\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"n\":1}}\n\n", id)
		case "late":
			// Answers "first" once more, after that request ended, then itself.
			fmt.Fprint(w, "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"n\":2}}\n\n")
			fmt.Fprintf(w, "data: {\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{}}\n\n", id)
		}
	})
	h := startRelay(t, srv)
	h.send(`{"jsonrpc":"2.0","id":0,"method":"bad"}`)
	if got := h.next(); !strings.Contains(got, `"id":null`) {
		t.Errorf("first line %s, want the server's id-null error relayed", got)
	}
	h.next() // bad's own result
	h.send(`{"jsonrpc":"2.0","id":1,"method":"first"}`)
	if got := h.next(); !strings.Contains(got, `"n":1`) {
		t.Fatalf("got %s, want first's result", got)
	}
	h.send(`{"jsonrpc":"2.0","id":2,"method":"late"}`)
	if got := h.next(); !strings.Contains(got, `"id":2`) {
		t.Errorf("got %s, want late's own result (the second answer for id 1 dropped)", got)
	}
	h.closeAndWait()
	if rest := h.rest(); len(rest) != 0 {
		t.Errorf("more on stdout: %q", rest)
	}
}

// A server that answers a notification or a client's response with 200 and a body (it must
// answer 202 and no body) has that body ignored, as the SDKs' HTTP clients do: relayed, an
// answer without an id makes the go-sdk client fail its next call (the conformance suite's
// reference server answers every unknown method so), and one with the id of a request in
// flight would pass for that request's answer.
func TestBodiesAnsweringMessagesThatOweNoneAreIgnored(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, body string
	}{
		{"json without id", "application/json", `{"jsonrpc":"2.0","result":{}}`},
		{"json with a pending id", "application/json", `{"jsonrpc":"2.0","id":5,"result":{"stray":true}}`},
		{"event stream", "text/event-stream", "data: {\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"stray\":true}}\n\n"},
		{"not json", "text/plain", "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				m := gjson.ParseBytes(body)
				if !m.Get("id").Exists() || m.Get("result").Exists() {
					w.Header().Set("Content-Type", tc.contentType)
					_, _ = io.WriteString(w, tc.body)
					return
				}
				<-release // request 5 stays in flight while the others are answered
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"own":true}}`, m.Get("id").Raw)
			})
			h := startRelay(t, srv)
			var once sync.Once
			free := func() { once.Do(func() { close(release) }) }
			t.Cleanup(free) // runs first: the server's Close waits for request 5's handler
			h.send(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"slow"}}`)
			h.send(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}`)
			h.send(`{"jsonrpc":"2.0","id":"s1","result":{}}`) // a response to a server request
			waitFor(t, "the notification and the response handled", func() bool { return strings.Count(h.logs.String(), "msg=relayed") == 2 })
			free()
			if got := h.next(); !strings.Contains(got, `"own":true`) {
				t.Errorf("stdout %s, want request 5's own answer first", got)
			}
			h.closeAndWait()
			if rest := h.rest(); len(rest) != 0 {
				t.Errorf("more on stdout: %q", rest)
			}
		})
	}
}

// A 404 or 405 at the endpoint says what to check; at a URL ending in /sse, which is where
// servers of the older HTTP+SSE transport listen, it names that transport.
func TestNotFoundSaysWhatToCheck(t *testing.T) {
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/mcp", http.StatusNotFound, "check that --url is the MCP endpoint, often ending in /mcp"},
		{"/mcp", http.StatusMethodNotAllowed, "the URL does not speak MCP Streamable HTTP; check --url"},
		{"/sse", http.StatusNotFound, "a URL ending in /sse is usually the older HTTP+SSE transport"},
		{"/sse", http.StatusMethodNotAllowed, "a URL ending in /sse is usually the older HTTP+SSE transport"},
	} {
		t.Run(fmt.Sprint(tc.path, tc.status), func(t *testing.T) {
			srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "Cannot POST "+r.URL.Path, tc.status)
			})
			h := startRelay(t, srv, func(c *Config) { c.URL = strings.TrimSuffix(c.URL, "/mcp") + tc.path })
			h.send(initReq)
			got := h.next()
			if !strings.Contains(got, `"id":0,"error"`) || !strings.Contains(got, tc.want) {
				t.Errorf("answer %s, want an error for id 0 saying %q", got, tc.want)
			}
		})
	}
}
