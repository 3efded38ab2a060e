package fakecloudrun

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/faults"
)

// ControlUsage documents the /_fake/ endpoints; GET /_fake/ prints it.
const ControlUsage = `fakecloudrun control endpoints (no authentication; loopback only):
  POST /_fake/fail?status=S[&count=N][&retry_after=SECONDS][&method=POST][&rpc_method=tools/call]
       the next N matching requests get status S (401, 403, 404, 429, 503, ...)
  POST /_fake/cut?[count=N][&after_ms=X][&after_events=K][&mode=abrupt|clean][&method=POST|GET][&retry_ms=R][&resumed=true]
       cut the next N SSE streams (resumed=true: only GETs with Last-Event-ID) after X ms or K message events
  POST /_fake/refuse?ms=N           refuse new connections for N ms (listener closed, idle connections dropped)
  POST /_fake/revoke                revoke every token issued so far
  POST /_fake/expire-sessions       end every MCP session (next request with an old id gets 404)
  POST /_fake/json?on=true|false    answer new sessions with JSON instead of SSE
  POST /_fake/invokers              body: JSON array of allowed emails; empty body allows all
  POST /_fake/token-lifetime?seconds=N   lifetime of tokens issued from now on
  POST /_fake/reset                 drop pending faults
  GET  /_fake/stats                 counters (JSON)
  GET  /_fake/tokens                tokens issued by the fake Google, per route (JSON)
`

// ControlHandler serves the /_fake/ endpoints that drive faults and read counters over HTTP.
func (s *Server) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_fake/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, ControlUsage)
	})
	mux.HandleFunc("POST /_fake/fail", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		status, err := strconv.Atoi(q.Get("status"))
		if err != nil || status < 100 || status > 599 {
			http.Error(w, "status must be an HTTP status code", http.StatusBadRequest)
			return
		}
		s.faults.FailNext(faults.Failure{
			Count:      atoi(q.Get("count")),
			Status:     status,
			RetryAfter: time.Duration(atoi(q.Get("retry_after"))) * time.Second,
			Method:     q.Get("method"),
			RPCMethod:  q.Get("rpc_method"),
		})
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_fake/cut", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mode := q.Get("mode")
		if mode != "" && mode != "abrupt" && mode != "clean" {
			http.Error(w, "mode must be abrupt or clean", http.StatusBadRequest)
			return
		}
		s.faults.CutStreams(faults.Cut{
			Count:       atoi(q.Get("count")),
			After:       time.Duration(atoi(q.Get("after_ms"))) * time.Millisecond,
			AfterEvents: atoi(q.Get("after_events")),
			Abrupt:      mode == "abrupt",
			Method:      q.Get("method"),
			Resumed:     q.Get("resumed") == "true",
			Retry:       time.Duration(atoi(q.Get("retry_ms"))) * time.Millisecond,
		})
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_fake/refuse", func(w http.ResponseWriter, r *http.Request) {
		ms := atoi(r.URL.Query().Get("ms"))
		if ms <= 0 {
			http.Error(w, "ms must be positive", http.StatusBadRequest)
			return
		}
		// Answer before the listener goes away.
		w.WriteHeader(http.StatusAccepted)
		w.(http.Flusher).Flush()
		go func() { _ = s.Refuse(time.Duration(ms) * time.Millisecond) }()
	})
	mux.HandleFunc("POST /_fake/revoke", func(w http.ResponseWriter, _ *http.Request) {
		s.RevokeTokens()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_fake/expire-sessions", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]int{"expired": s.ExpireSessions()})
	})
	mux.HandleFunc("POST /_fake/json", func(w http.ResponseWriter, r *http.Request) {
		on, err := strconv.ParseBool(r.URL.Query().Get("on"))
		if err != nil {
			http.Error(w, "on must be true or false", http.StatusBadRequest)
			return
		}
		s.SetJSONResponse(on)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_fake/invokers", func(w http.ResponseWriter, r *http.Request) {
		var emails []string
		if r.ContentLength != 0 {
			if err := json.NewDecoder(r.Body).Decode(&emails); err != nil {
				http.Error(w, "body must be a JSON array of emails", http.StatusBadRequest)
				return
			}
		}
		s.SetInvokers(emails)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_fake/token-lifetime", func(w http.ResponseWriter, r *http.Request) {
		n := atoi(r.URL.Query().Get("seconds"))
		if n <= 0 {
			http.Error(w, "seconds must be positive", http.StatusBadRequest)
			return
		}
		s.opts.Google.SetTokenLifetime(time.Duration(n) * time.Second)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_fake/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.faults.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_fake/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, s.Stats())
	})
	mux.HandleFunc("GET /_fake/tokens", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, s.opts.Google.TokensIssued())
	})
	return mux
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
