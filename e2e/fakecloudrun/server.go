package fakecloudrun

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakegoogle"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/faults"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// DefaultPath is where the MCP endpoint is served.
const DefaultPath = "/mcp"

// Options configure a [Server].
type Options struct {
	// Google issues the tokens the gate accepts. Required.
	Google *fakegoogle.Server
	// Addr is the listen address. Empty means 127.0.0.1:0 (a free loopback port).
	Addr string
	// Path of the MCP endpoint. Empty means [DefaultPath].
	Path string
	// Audiences are custom audiences accepted in addition to the service origin.
	Audiences []string
	// RejectClientIDAudiences makes the gate refuse tokens whose aud is the gcloud or ADC
	// OAuth client id (as services without custom audiences do for some setups).
	RejectClientIDAudiences bool
	// Invokers, when non-nil, are the only principals (email claim) allowed to invoke; others
	// get 403. Nil allows every valid token.
	Invokers []string
	// RunService, when set, is the resource name (projects/P/locations/R/services/S) of a
	// service in Google's fake Admin API whose settings the gate obeys, read at each request:
	// internal ingress answers 404 (this machine is outside), invokerIamDisabled lets requests
	// without a token through, customAudiences are accepted in aud, and only its invokers
	// pass (Invokers is then ignored).
	RunService string
	// JSONResponse makes new sessions answer requests with application/json instead of SSE.
	JSONResponse bool
	// TLS serves HTTPS (HTTP/2 and HTTP/1.1, as Cloud Run's front end does) with a
	// self-signed certificate for 127.0.0.1; clients trust it through [Server.CertPEM] (for Go
	// programs, SSL_CERT_FILE pointing at a file holding it).
	TLS bool
	// Stateless serves protocol 2026-07-28 as Cloud Run suits it: no sessions, no GET
	// stream, each request on its own (go-sdk StreamableHTTPOptions.Stateless).
	Stateless bool
	// ProtocolVersions, when non-empty, are the only protocol versions the server speaks,
	// e.g. only "2026-07-28", or only 2025 revisions.
	ProtocolVersions []string
	// Logger receives a line per request (never a token). Nil means no logging.
	Logger *slog.Logger
}

// A Server is a running fake Cloud Run service.
type Server struct {
	opts    Options
	certPEM []byte
	origin  string
	ln      net.Listener // guarded by mu after New
	path    string
	srv     *http.Server
	faults  *faults.Controller
	rec     *recorder
	mcp     *mcp.Server
	sse     *mcp.StreamableHTTPHandler
	json    *mcp.StreamableHTTPHandler

	mu            sync.Mutex
	jsonMode      bool
	invokers      []string
	sessionIsJSON map[string]bool
	calls         map[string]map[*func()]struct{} // session id -> cancel funcs of running tools/call
	refusals      int
	counter       int
	dynamicTools  int
	closed        bool
}

// New starts a fake Cloud Run service.
func New(opts Options) (*Server, error) {
	if opts.Google == nil {
		return nil, errors.New("fakecloudrun: Options.Google is required")
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Path == "" {
		opts.Path = DefaultPath
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("fakecloudrun: listen on %s: %w", opts.Addr, err)
	}
	scheme := "http"
	if opts.TLS {
		scheme = "https"
	}
	s := &Server{
		opts:          opts,
		origin:        scheme + "://" + ln.Addr().String(),
		path:          opts.Path,
		faults:        &faults.Controller{},
		rec:           newRecorder(),
		jsonMode:      opts.JSONResponse,
		invokers:      slices.Clone(opts.Invokers),
		sessionIsJSON: map[string]bool{},
		calls:         map[string]map[*func()]struct{}{},
	}
	s.mcp = s.newMCPServer()
	store := mcp.NewMemoryEventStore(nil)
	// Big enough to replay a few 8 MiB results.
	store.SetMaxBytes(256 << 20)
	hopts := func(json bool) *mcp.StreamableHTTPOptions {
		return &mcp.StreamableHTTPOptions{
			JSONResponse:        json,
			Stateless:           opts.Stateless,
			EventStore:          store,
			MaxRequestBodyBytes: 64 << 20,
			Logger:              opts.Logger,
		}
	}
	get := func(*http.Request) *mcp.Server { return s.mcp }
	s.sse = mcp.NewStreamableHTTPHandler(get, hopts(false))
	s.json = mcp.NewStreamableHTTPHandler(get, hopts(true))

	mux := http.NewServeMux()
	mux.Handle(opts.Path, s.rec.wrap(s.faults.Wrap(s.gate(http.HandlerFunc(s.route)))))
	mux.Handle("/_fake/", s.ControlHandler())
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.ln = ln
	if !opts.TLS {
		go s.srv.Serve(ln)
		return s, nil
	}
	cert, certPEM, err := selfSigned()
	if err != nil {
		ln.Close()
		return nil, err
	}
	s.certPEM = certPEM
	s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
	go s.srv.ServeTLS(ln, "", "")
	return s, nil
}

// serve accepts on ln with the server's scheme.
func (s *Server) serve(ln net.Listener) {
	if s.opts.TLS {
		_ = s.srv.ServeTLS(ln, "", "")
		return
	}
	_ = s.srv.Serve(ln)
}

// Refuse makes the service unreachable for d, as during a cold start or a network blip: the
// listener closes (new connections are refused), idle keep-alive connections are closed, then
// it listens on the same address again. Streams already open are not touched. It returns once
// the service is down.
func (s *Server) Refuse(d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	addr := s.ln.Addr().String()
	if err := s.ln.Close(); err != nil {
		return fmt.Errorf("fakecloudrun: close listener: %w", err)
	}
	s.srv.SetKeepAlivesEnabled(false) // closes idle connections
	s.refusals++
	time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			return
		}
		s.srv.SetKeepAlivesEnabled(true)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			s.opts.Logger.Error("fakecloudrun: listen again after Refuse", "addr", addr, "error", err)
			return
		}
		s.ln = ln
		go s.serve(ln)
	})
	return nil
}

// URL is the MCP endpoint, e.g. http://127.0.0.1:PORT/mcp.
func (s *Server) URL() string { return s.origin + s.path }

// CertPEM is the PEM certificate to trust when Options.TLS is set (nil otherwise).
func (s *Server) CertPEM() []byte { return s.certPEM }

// Origin is scheme://host:port, the audience the gate expects by default.
func (s *Server) Origin() string { return s.origin }

// Faults is the fault controller in front of the gate.
func (s *Server) Faults() *faults.Controller { return s.faults }

// Google is the fake Google whose tokens the gate accepts.
func (s *Server) Google() *fakegoogle.Server { return s.opts.Google }

// RevokeTokens revokes every token issued so far; requests still carrying one get 401.
func (s *Server) RevokeTokens() { s.opts.Google.RevokeAll() }

// ExpireSessions ends every MCP session, as an instance restart does: the next request
// carrying an old Mcp-Session-Id gets 404.
func (s *Server) ExpireSessions() int {
	n := 0
	for ss := range s.mcp.Sessions() {
		s.cancelCalls(ss.ID())
		_ = ss.Close()
		n++
	}
	s.rec.addExpired(n)
	return n
}

// SetJSONResponse switches sessions created from now on between JSON and SSE responses.
func (s *Server) SetJSONResponse(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jsonMode = on
}

// SetInvokers replaces the invoker allow-list; nil allows every valid token.
func (s *Server) SetInvokers(emails []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invokers = slices.Clone(emails)
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	st := s.rec.snapshot()
	fs := s.faults.Stats()
	st.Injected, st.StreamsCut = fs.Injected, fs.StreamsCut
	return st
}

// WaitFor polls the counters until cond holds or ctx ends; it returns the last snapshot.
func (s *Server) WaitFor(ctx context.Context, cond func(Stats) bool) (Stats, error) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		st := s.Stats()
		if cond(st) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("fakecloudrun: condition not met: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// Close ends every session and closes every connection.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ln := s.ln
	s.mu.Unlock()
	_ = ln.Close()
	for ss := range s.mcp.Sessions() {
		s.cancelCalls(ss.ID())
		_ = ss.Close()
	}
	// The listener was closed above; whether Serve had let go of it yet is a race, and
	// closing it twice is no failure.
	if err := s.srv.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// trackCall remembers the cancel func of a running tools/call; the returned func forgets it.
func (s *Server) trackCall(sessionID string, cancel func()) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.calls[sessionID]
	if m == nil {
		m = map[*func()]struct{}{}
		s.calls[sessionID] = m
	}
	key := &cancel
	m[key] = struct{}{}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.calls[sessionID], key)
		if len(s.calls[sessionID]) == 0 {
			delete(s.calls, sessionID)
		}
	}
}

// cancelCalls cancels the running tools/call handlers of a session that is ending.
func (s *Server) cancelCalls(sessionID string) {
	s.mu.Lock()
	var cancels []func()
	for k := range s.calls[sessionID] {
		cancels = append(cancels, *k)
	}
	s.mu.Unlock()
	for _, c := range cancels {
		c()
	}
}

// route sends a request to the handler that owns its session: sessions keep the response mode
// they were created with.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	sid := r.Header.Get("Mcp-Session-Id")
	s.mu.Lock()
	isJSON, known := s.sessionIsJSON[sid]
	if sid == "" || !known {
		isJSON = s.jsonMode
	}
	s.mu.Unlock()
	h := s.sse
	if isJSON {
		h = s.json
	}
	if sid != "" {
		if r.Method == http.MethodDelete {
			s.cancelCalls(sid)
		}
		h.ServeHTTP(w, r)
		return
	}
	h.ServeHTTP(&sessionNoter{ResponseWriter: w, note: func(id string) {
		s.mu.Lock()
		s.sessionIsJSON[id] = isJSON
		s.mu.Unlock()
	}}, r)
}

// sessionNoter sees the Mcp-Session-Id of a new session before the client does.
type sessionNoter struct {
	http.ResponseWriter
	note  func(string)
	noted bool
}

func (w *sessionNoter) WriteHeader(code int) {
	if !w.noted {
		w.noted = true
		if id := w.Header().Get("Mcp-Session-Id"); id != "" {
			w.note(id)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *sessionNoter) Write(p []byte) (int, error) {
	if !w.noted {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (w *sessionNoter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *sessionNoter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
