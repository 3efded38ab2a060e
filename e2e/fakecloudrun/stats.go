package fakecloudrun

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/faults"
)

// Stats are the counters of a [Server], as seen at its front door.
type Stats struct {
	// ByStatus counts responses by HTTP status (an aborted stream counts as its status).
	ByStatus map[int]int `json:"by_status"`
	// ByMethod counts requests by HTTP method.
	ByMethod map[string]int `json:"by_method"`
	// ByRPCMethod counts POSTed JSON-RPC messages by method; responses count as "(response)".
	ByRPCMethod map[string]int `json:"by_rpc_method"`
	// Rejected counts requests the IAM gate refused, by reason (missing, invalid, expired,
	// revoked, audience, issuer, not-invoker).
	Rejected map[string]int `json:"rejected"`
	// SessionsCreated counts initialize responses that created a session.
	SessionsCreated int `json:"sessions_created"`
	// SessionsDeleted counts DELETE requests that ended a session.
	SessionsDeleted int `json:"sessions_deleted"`
	// SessionsExpired counts sessions ended by ExpireSessions.
	SessionsExpired int `json:"sessions_expired"`
	// StreamsResumed counts GET requests carrying Last-Event-ID that the server accepted.
	StreamsResumed int `json:"streams_resumed"`
	// StandaloneStreams counts GET requests without Last-Event-ID that the server accepted.
	StandaloneStreams int `json:"standalone_streams"`
	// MaxInFlight is the largest number of POSTs being served at once.
	MaxInFlight int `json:"max_in_flight"`
	// Injected counts failures injected by the fault controller, by status.
	Injected map[int]int `json:"injected"`
	// StreamsCut counts SSE streams cut by the fault controller.
	StreamsCut int `json:"streams_cut"`
	// Authorizations are the distinct Authorization header values received, in order.
	// Tests compare them with issued tokens and search logs for them; never print them.
	Authorizations []string `json:"-"`
	// Requests is every request in arrival order.
	Requests []Request `json:"requests"`
}

// A Request is what the recorder noted about one request.
type Request struct {
	Method      string `json:"method"`
	Proto       string `json:"proto"`
	RPCMethod   string `json:"rpc_method,omitempty"`
	RPCID       string `json:"rpc_id,omitempty"`
	SessionID   string `json:"session_id,omitempty"`
	LastEventID string `json:"last_event_id,omitempty"`
	Status      int    `json:"status"`
	// BodyBytes is the length of the request body.
	BodyBytes int `json:"body_bytes"`
	// Routing holds the request's MCP routing headers (MCP-Protocol-Version, Mcp-Method,
	// Mcp-Name, Mcp-Param-*), keyed by canonical name.
	Routing map[string]string `json:"routing,omitempty"`
}

// RPCCalls returns the POSTs of JSON-RPC method m that the MCP server answered with 200.
func (st Stats) RPCCalls(m string) []Request {
	var out []Request
	for _, r := range st.Requests {
		if r.RPCMethod == m && r.Status == http.StatusOK {
			out = append(out, r)
		}
	}
	return out
}

type recorder struct {
	mu       sync.Mutex
	st       Stats
	inFlight int
	seenAuth map[string]bool
}

func newRecorder() *recorder {
	r := &recorder{seenAuth: map[string]bool{}}
	r.reset()
	return r
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st = Stats{
		ByStatus:    map[int]int{},
		ByMethod:    map[string]int{},
		ByRPCMethod: map[string]int{},
		Rejected:    map[string]int{},
	}
	r.seenAuth = map[string]bool{}
}

func (r *recorder) snapshot() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st
	st.ByStatus = maps.Clone(r.st.ByStatus)
	st.ByMethod = maps.Clone(r.st.ByMethod)
	st.ByRPCMethod = maps.Clone(r.st.ByRPCMethod)
	st.Rejected = maps.Clone(r.st.Rejected)
	st.Authorizations = slices.Clone(r.st.Authorizations)
	st.Requests = slices.Clone(r.st.Requests)
	return st
}

func (r *recorder) reject(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st.Rejected[reason]++
}

func (r *recorder) addExpired(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st.SessionsExpired += n
}

// wrap counts every request and its outcome; it sits outside the faults and the gate.
func (r *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rq := Request{
			Method:      req.Method,
			Proto:       req.Proto,
			SessionID:   req.Header.Get("Mcp-Session-Id"),
			LastEventID: req.Header.Get("Last-Event-ID"),
			Routing:     routingHeaders(req.Header),
		}
		if req.Method == http.MethodPost && req.Body != nil {
			body, err := io.ReadAll(req.Body)
			if err == nil {
				req.Body = io.NopCloser(bytes.NewReader(body))
				rq.BodyBytes = len(body)
				rq.RPCMethod, rq.RPCID = rpcOf(body)
			}
		}
		r.mu.Lock()
		r.st.ByMethod[req.Method]++
		if req.Method == http.MethodPost {
			key := rq.RPCMethod
			if key == "" {
				key = "(response)"
			}
			r.st.ByRPCMethod[key]++
			r.inFlight++
			r.st.MaxInFlight = max(r.st.MaxInFlight, r.inFlight)
		}
		if a := req.Header.Get("Authorization"); a != "" && !r.seenAuth[a] {
			r.seenAuth[a] = true
			r.st.Authorizations = append(r.st.Authorizations, a)
		}
		idx := len(r.st.Requests)
		r.st.Requests = append(r.st.Requests, rq)
		r.mu.Unlock()

		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			r.mu.Lock()
			if req.Method == http.MethodPost {
				r.inFlight--
			}
			r.st.ByStatus[status]++
			r.st.Requests[idx].Status = status
			if status == http.StatusOK && rq.RPCMethod == "initialize" && sw.sessionID != "" {
				r.st.SessionsCreated++
			}
			if req.Method == http.MethodDelete && status/100 == 2 {
				r.st.SessionsDeleted++
			}
			r.mu.Unlock()
		}()
		if req.Method == http.MethodGet {
			// Streams stay open: count them when their headers go out.
			sw.onHeader = func(status int) {
				if status != http.StatusOK {
					return
				}
				r.mu.Lock()
				defer r.mu.Unlock()
				if rq.LastEventID != "" {
					r.st.StreamsResumed++
				} else {
					r.st.StandaloneStreams++
				}
			}
		}
		next.ServeHTTP(sw, req)
	})
}

// routingHeaders picks the headers 2026-07-28 derives from the body.
func routingHeaders(h http.Header) map[string]string {
	var out map[string]string
	for k, v := range h {
		if k == "Mcp-Protocol-Version" || k == "Mcp-Method" || k == "Mcp-Name" || strings.HasPrefix(k, "Mcp-Param-") {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = strings.Join(v, ",")
		}
	}
	return out
}

// rpcOf returns the method and the raw id of a single JSON-RPC message.
func rpcOf(body []byte) (method, id string) {
	var m struct {
		Method string          `json:"method"`
		ID     json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return faults.RPCMethod(body), ""
	}
	return m.Method, string(m.ID)
}

type statusWriter struct {
	http.ResponseWriter
	status    int
	sessionID string
	onHeader  func(int)
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		w.sessionID = w.Header().Get("Mcp-Session-Id")
		if w.onHeader != nil {
			w.onHeader(code)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
