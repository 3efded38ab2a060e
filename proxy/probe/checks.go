package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy/internal/wire"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// maxToolPages bounds tools/list pagination, against a server whose cursors never end.
const maxToolPages = 20

// shownTools is how many tool names a report lists.
const shownTools = 10

// An Explanation is what the caller knows about a rejection that MCP does not: which
// credential minted the token, for which audience, and how to fix it.
type Explanation struct {
	// Found replaces the generic reading of the status, e.g. "the token's aud is X, the
	// service expects Y".
	Found string
	// Note says what the rejection means.
	Note string
	// Remedy says what to do.
	Remedy string
}

// Hints explain 401 and 403 answers to requests that carried the token; a zero Explanation
// leaves the generic text.
type Hints struct {
	Unauthorized Explanation
	Forbidden    Explanation
}

// A Session is what initialize established.
type Session struct {
	// ID is the Mcp-Session-Id the server returned, "" for a stateless server.
	ID string
	// ProtocolVersion is the MCP revision the server picked.
	ProtocolVersion string
	// ServerName and ServerVersion are the server's serverInfo.
	ServerName, ServerVersion string
	// Capabilities are the names of the server's capabilities, sorted.
	Capabilities []string
}

// CheckReachability POSTs initialize without a token. Behind Cloud Run IAM the front end
// answers 401 or 403, which proves the service exists; 404 means the host or path is wrong;
// a success means the service is public (and the session it opened is deleted again).
func (p *Prober) CheckReachability(ctx context.Context) Step {
	st := Step{Name: "reachability", Checked: "reachability without a token (POST " + p.url.String() + ")"}
	ex := p.do(ctx, request{method: http.MethodPost, body: p.initializeBody(), onlyFirst: true})
	st.Details = ex.details()
	if ex.status == 0 {
		return netFailure(st, ex.err)
	}
	status := statusText(ex.status)
	switch c := ex.status; {
	case c == http.StatusUnauthorized || c == http.StatusForbidden:
		st.Verdict = OK
		st.Found = status + ": the service exists and requires authentication (IAM is on)"
	case c == http.StatusNotFound:
		st.Verdict = Fail
		st.Found = status + ": nothing is served at this host and path"
		st.Note = "Cloud Run answers 404 for a host that is no service; an application answers 404 for a path it does not serve"
		st.Remedy = "check --url: the service URL (scheme://host) and the path of its MCP endpoint (often /mcp)"
	case c/100 == 3:
		return redirected(st, ex)
	case c/100 == 2:
		st.Verdict = Warn
		st.Found = status + " without a token: the service is public"
		st.Note = "the token is not needed: anyone who knows the URL can use this server"
		st.Remedy = "if that is not intended, require authentication: `gcloud run services update SERVICE --no-allow-unauthenticated`"
		if id := ex.header.Get(wire.HeaderSessionID); id != "" {
			p.do(ctx, request{method: http.MethodDelete, session: id})
		}
	case c == http.StatusTooManyRequests || c/100 == 5:
		st.Verdict = Warn
		st.Found = status + ": the front end or the service is failing" + quoted(ex.excerpt(""))
		st.Note = "a cold start, overload or a crashing instance; the relay retries these, and the next step shows whether it recovers"
	default:
		st.Verdict = Warn
		st.Found = status + " without a token: the request reached an application, so no IAM front end guards it" + quoted(ex.excerpt(""))
		st.Note = "the service looks public (the token is not needed); the next step checks the MCP endpoint"
	}
	return st
}

// CheckInitialize POSTs initialize with token and reports what the server said about itself.
// The session is nil unless the step passed.
func (p *Prober) CheckInitialize(ctx context.Context, token string, h Hints) (Step, *Session) {
	st := Step{Name: "initialize", Checked: "MCP initialize with the token (POST " + p.url.String() + ")"}
	ex := p.do(ctx, request{method: http.MethodPost, body: p.initializeBody(), token: token, onlyFirst: true})
	st.Details = ex.details()
	if ex.status == 0 {
		return netFailure(st, ex.err), nil
	}
	if ex.status/100 != 2 {
		st = p.rejected(st, ex, token, h)
		if (ex.status == http.StatusNotFound || ex.status == http.StatusMethodNotAllowed) && p.legacySSE(ctx, token) {
			st.Found = statusText(ex.status) + ": this URL serves the older HTTP+SSE transport (MCP 2024-11-05: a GET opens an event stream naming where to POST), not Streamable HTTP"
			st.Remedy = "the proxy speaks Streamable HTTP (MCP 2025-03-26 and later) only: move the server to it (current SDKs serve it at " + p.origin() + "/mcp) and set --url there"
		}
		return st, nil
	}
	if ex.err != nil {
		st.Verdict, st.Found = Fail, ex.err.Error()
		return st, nil
	}
	if st, ok := notMCP(st, ex, token); !ok {
		return st, nil
	}
	res := gjson.ParseBytes(ex.body)
	if e := res.Get("error"); e.Exists() {
		st.Verdict = Fail
		st.Found = fmt.Sprintf("%s, but initialize failed: JSON-RPC error %d: %s", statusText(ex.status), e.Get("code").Int(), e.Get("message").String())
		st.Remedy = "the server refused the handshake; its logs say why"
		return st, nil
	}
	r := res.Get("result")
	s := &Session{
		ID:              ex.header.Get(wire.HeaderSessionID),
		ProtocolVersion: r.Get("protocolVersion").String(),
		ServerName:      r.Get("serverInfo.name").String(),
		ServerVersion:   r.Get("serverInfo.version").String(),
	}
	r.Get("capabilities").ForEach(func(k, _ gjson.Result) bool {
		s.Capabilities = append(s.Capabilities, k.String())
		return true
	})
	sort.Strings(s.Capabilities)
	sessionText := "no session id (a stateless server)"
	if s.ID != "" {
		sessionText = "a session id came back"
	}
	caps := "none"
	if len(s.Capabilities) > 0 {
		caps = strings.Join(s.Capabilities, ", ")
	}
	st.Verdict = OK
	st.Found = fmt.Sprintf("%s in %s: server %q %s, protocol %s, %s, capabilities: %s",
		statusText(ex.status), took(ex.elapsed), s.ServerName, s.ServerVersion, s.ProtocolVersion, sessionText, caps)
	st.Details["server_name"] = s.ServerName
	st.Details["server_version"] = s.ServerVersion
	st.Details["protocol_version"] = s.ProtocolVersion
	st.Details["session_id_returned"] = s.ID != ""
	st.Details["capabilities"] = s.Capabilities
	if s.ProtocolVersion == "" {
		st.Verdict = Warn
		st.Note = "the answer carries no protocolVersion; MCP clients may refuse this server"
	}
	return st, s
}

// CheckTools completes the handshake (notifications/initialized), lists the tools, then
// deletes the session.
func (p *Prober) CheckTools(ctx context.Context, token string, s *Session, h Hints) Step {
	st := Step{Name: "tools", Checked: "tools/list, then DELETE the session"}
	st.Details = map[string]any{}
	base := request{method: http.MethodPost, token: token, session: s.ID, protocol: s.ProtocolVersion}

	notify := base
	notify.body = []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	ex := p.do(ctx, notify)
	if ex.status == 0 {
		return netFailure(st, ex.err)
	}
	var notes []string
	if ex.status/100 != 2 {
		if ex.status == http.StatusUnauthorized || ex.status == http.StatusForbidden {
			st = p.rejected(st, ex, token, h)
			st.Found = "notifications/initialized: " + st.Found
			return p.deleteSession(ctx, st, base)
		}
		notes = append(notes, fmt.Sprintf("notifications/initialized got %s, not 202 Accepted", statusText(ex.status)))
	}

	names, cursor, failed := p.listTools(ctx, &st, base, s, token, h)
	if failed {
		return p.deleteSession(ctx, st, base)
	}
	shown := names
	if len(shown) > shownTools {
		shown = shown[:shownTools]
	}
	st.Verdict = OK
	st.Found = fmt.Sprintf("%d tools", len(names))
	if len(shown) > 0 {
		st.Found += ": " + strings.Join(shown, ", ")
		if len(names) > len(shown) {
			st.Found += ", …"
		}
	}
	if cursor != "" {
		notes = append(notes, fmt.Sprintf("stopped after %d pages of tools", maxToolPages))
	}
	st.Details["tool_count"] = len(names)
	st.Details["tools"] = shown
	if len(notes) > 0 {
		st.Verdict = Warn
		st.Note = strings.Join(notes, "; ")
	}
	return p.deleteSession(ctx, st, base)
}

// listTools pages through tools/list and returns the tool names and the cursor it stopped at;
// failed is true when st now says why the listing failed.
func (p *Prober) listTools(ctx context.Context, st *Step, base request, s *Session, token string, h Hints) (names []string, cursor string, failed bool) {
	for page := 0; page < maxToolPages; page++ {
		list := base
		list.onlyFirst = true
		list.body = toolsListBody(page+2, cursor)
		ex := p.do(ctx, list)
		st.Details["status"] = ex.status
		if ex.status == 0 {
			*st = netFailure(*st, ex.err)
			return names, cursor, true
		}
		if ex.status/100 != 2 {
			*st = p.rejected(*st, ex, token, h)
			if ex.status == http.StatusNotFound && s.ID != "" {
				st.Found = statusText(ex.status) + ": the server forgot the session it had just created"
				st.Note = "sessions that vanish at once usually mean several instances without session affinity"
				st.Remedy = "run the server with a single instance, enable session affinity (`gcloud run services update SERVICE --session-affinity`), or make it stateless"
			}
			return names, cursor, true
		}
		if ex.err != nil {
			st.Verdict, st.Found = Fail, ex.err.Error()
			return names, cursor, true
		}
		var ok bool
		if *st, ok = notMCP(*st, ex, token); !ok {
			return names, cursor, true
		}
		res := gjson.ParseBytes(ex.body)
		if e := res.Get("error"); e.Exists() {
			st.Verdict = Fail
			st.Found = fmt.Sprintf("tools/list failed: JSON-RPC error %d: %s", e.Get("code").Int(), e.Get("message").String())
			if e.Get("code").Int() == -32601 {
				st.Verdict = Warn
				st.Found = "the server offers no tools (tools/list: method not found)"
			}
			return names, cursor, true
		}
		res.Get("result.tools.#.name").ForEach(func(_, n gjson.Result) bool {
			names = append(names, n.String())
			return true
		})
		cursor = res.Get("result.nextCursor").String()
		if cursor == "" {
			break
		}
	}
	return names, cursor, false
}

// deleteSession ends the session and adds what happened to st. A failed DELETE is worth a
// warning, never a failure: the server will expire the session anyway.
func (p *Prober) deleteSession(ctx context.Context, st Step, base request) Step {
	if st.Details == nil {
		st.Details = map[string]any{}
	}
	if base.session == "" {
		st.Found += "; no session to delete"
		return st
	}
	ex := p.do(ctx, request{method: http.MethodDelete, token: base.token, session: base.session, protocol: base.protocol})
	var what string
	switch c := ex.status; {
	case c == 0:
		what = "DELETE of the session failed: " + ex.err.Error()
	case c/100 == 2:
		what = "session deleted (" + statusText(c) + ")"
	case c == http.StatusMethodNotAllowed:
		what = "the server does not let clients delete sessions (HTTP 405; it expires them itself)"
	case c == http.StatusNotFound:
		what = "session already gone (HTTP 404)"
	default:
		what = "DELETE of the session got " + statusText(c)
	}
	st.Details["delete_status"] = ex.status
	st.Found += "; " + what
	if (ex.status == 0 || ex.status/100 > 4 || ex.status == http.StatusUnauthorized || ex.status == http.StatusForbidden) && st.Verdict == OK {
		st.Verdict = Warn
	}
	return st
}

// rejected explains a non-2xx answer to a request that carried the token.
func (p *Prober) rejected(st Step, ex exchange, token string, h Hints) Step {
	st.Verdict = Fail
	status := statusText(ex.status)
	if a := ex.header.Get("WWW-Authenticate"); a != "" {
		st.Details["www_authenticate"] = proxyExcerpt(a, token)
	}
	explain := func(e Explanation, generic, note, remedy string) {
		st.Found = status + ": " + firstNonEmpty(e.Found, generic)
		st.Note = firstNonEmpty(e.Note, note)
		st.Remedy = firstNonEmpty(e.Remedy, remedy)
	}
	switch c := ex.status; {
	case c == http.StatusUnauthorized:
		explain(h.Unauthorized, "the token was refused",
			"the token is invalid, expired or revoked, or its audience is not one the service accepts",
			"check the audience (--audience) and log in again")
	case c == http.StatusForbidden:
		explain(h.Forbidden, "the principal may not invoke the service",
			"the token was valid but its principal lacks permission",
			"grant the principal the invoker role on the service")
	case c == http.StatusNotFound || c == http.StatusMethodNotAllowed:
		st.Found = status + ": the URL does not point at the MCP endpoint" + quoted(ex.excerpt(token))
		st.Remedy = "set --url to the server's Streamable HTTP endpoint; most servers serve it at " + p.origin() + "/mcp"
	case c == http.StatusNotAcceptable || c == http.StatusUnsupportedMediaType:
		st.Found = status + ": the server does not speak Streamable HTTP (it refused a JSON POST accepting application/json and text/event-stream)" + quoted(ex.excerpt(token))
		st.Remedy = "the proxy needs an MCP server with the Streamable HTTP transport (MCP 2025-03-26 or later); a server with the older HTTP+SSE transport (GET /sse) must be upgraded"
	case c/100 == 3:
		return redirected(st, ex)
	default:
		st.Found = status + quoted(ex.excerpt(token))
		if c == http.StatusTooManyRequests || c/100 == 5 {
			st.Note = "the server or the Cloud Run front end is failing; its logs say why (`gcloud run services logs read SERVICE`)"
		}
	}
	return st
}

// notMCP fails st when a 2xx answer is not one JSON-RPC response; ok is true when it is.
func notMCP(st Step, ex exchange, token string) (Step, bool) {
	switch {
	case ex.contentType != "application/json" && ex.contentType != "text/event-stream":
		st.Verdict = Fail
		st.Found = fmt.Sprintf("%s with Content-Type %q: not a Streamable HTTP MCP endpoint%s", statusText(ex.status), ex.header.Get("Content-Type"), quoted(ex.excerpt(token)))
		st.Remedy = "set --url to the server's MCP endpoint (often /mcp), not a web page"
		return st, false
	case !isResponse(ex.body):
		st.Verdict = Fail
		st.Found = fmt.Sprintf("%s (%s) but no JSON-RPC response in it%s", statusText(ex.status), ex.contentType, quoted(ex.excerpt(token)))
		st.Remedy = "the endpoint does not behave as an MCP server; check --url and the server's logs"
		return st, false
	}
	return st, true
}

// netFailure fails st for a request that got no answer, naming the kind of failure.
func netFailure(st Step, err error) Step {
	st.Verdict = Fail
	st.Found = err.Error()
	var ne *NetError
	if !errors.As(err, &ne) {
		return st
	}
	st.Details["error_kind"] = string(ne.Kind)
	switch ne.Kind {
	case DNS:
		st.Remedy = "check the host in --url (a typo, a deleted service) and your DNS or VPN"
	case TLS:
		st.Remedy = "check that --url uses https on a host with a valid certificate; a TLS-intercepting proxy needs its CA in the system trust store"
	case Refused:
		st.Remedy = "check the host and port in --url; is the server running?"
	case Timeout:
		st.Remedy = "check your network, proxy (HTTPS_PROXY) and firewall, or raise --timeout for a slow cold start"
	default:
		st.Remedy = "check your network and the host in --url"
	}
	return st
}

func redirected(st Step, ex exchange) Step {
	st.Verdict = Fail
	st.Found = statusText(ex.status) + ": redirected to " + proxyExcerpt(ex.header.Get("Location"), "")
	st.Remedy = "the relay does not follow redirects: set --url to the final URL"
	return st
}

// details are the facts every network step reports in JSON.
func (ex exchange) details() map[string]any {
	d := map[string]any{"elapsed_ms": ex.elapsed.Milliseconds()}
	if ex.status != 0 {
		d["status"] = ex.status
	}
	if ex.contentType != "" {
		d["content_type"] = ex.contentType
	}
	return d
}

func (p *Prober) initializeBody() []byte {
	b, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0",
		"id":      1,
		"method":  "initialize",
		"params": map[string]any{
			"protocolVersion": ProtocolVersion,
			"capabilities":    map[string]any{},
			"clientInfo":      map[string]any{"name": "mcp-cloudrun-proxy-debug", "version": p.cfg.ClientVersion},
		},
	})
	return b
}

func toolsListBody(id int, cursor string) []byte {
	params := map[string]any{}
	if cursor != "" {
		params["cursor"] = cursor
	}
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": "tools/list", "params": params})
	return b
}

// isResponse reports whether data is a JSON-RPC response.
func isResponse(data []byte) bool { return wire.IsResponse(gjson.ParseBytes(data)) }

// took is a duration for people: milliseconds, never "0s".
func took(d time.Duration) string {
	if d < time.Millisecond {
		return "under 1ms"
	}
	return d.Round(time.Millisecond).String()
}

func (p *Prober) origin() string { return p.url.Scheme + "://" + p.url.Host }

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("HTTP %d %s", code, t)
	}
	return fmt.Sprintf("HTTP %d", code)
}

// quoted is ` (server said: "...")` for a non-empty excerpt.
func quoted(excerpt string) string {
	if excerpt == "" {
		return ""
	}
	return fmt.Sprintf(" (server said: %q)", excerpt)
}

func proxyExcerpt(s, token string) string { return exchange{body: []byte(s)}.excerpt(token) }

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
