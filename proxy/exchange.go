package proxy

import (
	"context"
	"errors"
	"fmt"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy/internal/sse"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy/internal/wire"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy/internal/jsonscan"
	"github.com/tidwall/gjson"
)

// handle relays one client line and makes sure a request always gets exactly one answer.
func (r *Relay) handle(ctx context.Context, m *message) {
	if m.kind == kindInvalid {
		r.log.Warn("stdin: line is not a JSON-RPC message; answering with a parse error", "bytes", m.size)
		r.out.writeMessage(parseErrorResponse)
		return
	}
	ctx, untrack := r.track(ctx, m)
	defer untrack()
	if m.stateless() {
		r.clientVersion.Store(m.version)
	}
	start := time.Now()
	err := r.deliver(withBudget(ctx, newBudget(r.cfg.RetryMax, r.cfg.RetryBudget)), m)
	if m.kind == kindNotification && m.method == "notifications/cancelled" {
		// The server has been told; the relay stops waiting for the answer too (closing the
		// stream is how 2026-07-28 cancels), since some servers never answer a cancelled
		// request and the client ignores the answer anyway.
		r.pending.cancel(m.params.Get("requestId").Raw)
	}
	if err == nil && !r.log.Enabled(ctx, slog.LevelDebug) {
		return // building the attributes below allocates, on every message
	}
	attrs := []any{"method", m.method, "id", string(m.id), "status", m.status, "bytes", m.size, "latency", time.Since(start).Round(time.Microsecond)}
	if err == nil {
		r.log.Debug("relayed", attrs...)
		return
	}
	r.fail(ctx, m, err, attrs)
}

// track registers the requests in m as awaiting their answer.
func (r *Relay) track(ctx context.Context, m *message) (context.Context, func()) {
	switch m.kind {
	case kindRequest:
		return r.pending.track(ctx, m.id, m.isListen())
	case kindBatch:
		untracks := make([]func(), 0, len(m.batchIDs))
		for _, id := range m.batchIDs {
			var untrack func()
			_, untrack = r.pending.track(ctx, id, false)
			untracks = append(untracks, untrack)
		}
		return ctx, func() {
			for _, u := range untracks {
				u()
			}
		}
	}
	return ctx, func() {}
}

// fail reports err for m: to the client as an error answer when m is owed one, else in the
// log. A request the client cancelled or that was answered on another stream gets nothing.
func (r *Relay) fail(ctx context.Context, m *message, err error, attrs []any) {
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, errCancelledByClient), errors.Is(cause, errAnsweredElsewhere):
		r.log.Debug("request ended without an answer of its own", append(attrs, "cause", cause)...)
		return
	case errors.Is(cause, errShuttingDown):
		err = errShuttingDown
	}
	var startup *StartupError
	if errors.As(err, &startup) {
		r.startupErr.CompareAndSwap(nil, startup)
	}
	var serr *serverError
	level := slog.LevelWarn
	// The client sees these in full, and a 2025 server refusing the 2026 probe
	// (server/discover) is how clients find out which generation it speaks: no warning.
	if errors.As(err, &serr) || startup != nil || m.method == "server/discover" {
		level = slog.LevelDebug
	}
	if m.responsesExpected() == 0 {
		r.log.Log(ctx, level, "could not deliver message", append(attrs, "error", err)...)
		return
	}
	r.log.Log(ctx, level, "request failed; answering with an error", append(attrs, "error", err)...)
	r.replyError(m, err)
}

// deliver POSTs m and relays what comes back.
func (r *Relay) deliver(ctx context.Context, m *message) error {
	switch {
	case m.kind == kindRequest && m.method == "initialize":
		return r.initialize(ctx, m)
	case m.stateless():
		return r.deliverStateless(ctx, m)
	}
	s := r.sess.current()
	if s.id == "" && s.protocolVersion == "" {
		if v, _ := r.clientVersion.Load().(string); v != "" {
			// A notification from a client speaking 2026-07-28, which has no session.
			return r.post(ctx, m, exchange{method: http.MethodPost, body: m.body, msg: m, version: v}, nil)
		}
	}
	return r.deliverInSession(ctx, m, s)
}

// deliverInSession relays m within the session of protocol 2025-11-25 or earlier. A 404 on a
// request that carried a session id means the server dropped the session: a new one is
// started and m is sent once more, within m's retry budget.
func (r *Relay) deliverInSession(ctx context.Context, m *message, s *session) error {
	for {
		resp, err := r.send(ctx, exchange{method: http.MethodPost, body: m.body, sess: s, msg: m})
		if err != nil {
			return err
		}
		m.status = resp.StatusCode
		if resp.StatusCode == http.StatusNotFound && s.id != "" && budgetFrom(ctx).take(0) {
			discard(resp)
			r.log.Info("upstream session expired; starting a new one and resending", "method", m.method)
			if s, err = r.renewSession(ctx, s); err != nil {
				return fmt.Errorf("the server ended the session and a new one could not be started: %w", err)
			}
			continue
		}
		if err := r.checkStatus(resp, s); err != nil {
			return err
		}
		m.release()
		if err := r.consume(ctx, m, resp, s, r.sinkFor(m)); err != nil {
			return err
		}
		if m.kind == kindNotification && m.method == "notifications/initialized" {
			r.sess.rememberInitialized(m.body)
			r.awaitStream(ctx, r.startStandaloneStream(s))
		}
		return nil
	}
}

// A sink takes each server message of an answer with the raw ids of the responses in it,
// parsed once where the message was read.
type sink func(msg []byte, ids []string)

// post sends m once (with retries of transient failures) and relays the answer through to,
// or to the client when to is nil.
func (r *Relay) post(ctx context.Context, m *message, x exchange, to sink) error {
	if to == nil {
		to = r.sinkFor(m)
	}
	resp, err := r.send(ctx, x)
	if err != nil {
		return err
	}
	m.status = resp.StatusCode
	if err := r.checkStatus(resp, nil); err != nil {
		return err
	}
	m.release()
	return r.consume(ctx, m, resp, nil, to)
}

// awaitStream waits, for at most StreamReadyWait, until the standalone stream has its first
// answer: the message after the handshake must not overtake it, or a request the server sends
// right after initialization has nowhere to go.
func (r *Relay) awaitStream(ctx context.Context, ready <-chan struct{}) {
	t := time.NewTimer(r.cfg.StreamReadyWait)
	defer t.Stop()
	select {
	case <-ready:
	case <-t.C:
		r.log.Debug("standalone stream not open yet; going on", "waited", r.cfg.StreamReadyWait)
	case <-ctx.Done():
	}
}

// sinkFor returns where the server's messages for m go: stdout, each response settling its
// request, and tools/list results teaching the relay the tools' header annotations.
func (r *Relay) sinkFor(m *message) sink {
	return func(msg []byte, ids []string) {
		if m.kind == kindRequest && m.method == "tools/list" {
			r.tools.learn(msg)
		}
		r.emit(msg, ids, m)
	}
}

// emit writes one server message, whose responses have the raw ids given, to stdout unless it
// answers a request that already has its answer. owner is the message whose stream carried
// it, nil for the standalone stream.
func (r *Relay) emit(msg []byte, ids []string, owner *message) {
	first := true
	for _, id := range ids {
		if !r.pending.settle(id, !owner.owns(id)) {
			first = false
		}
	}
	if !first {
		r.log.Debug("dropping a second answer for a request", "bytes", len(msg))
		return
	}
	r.out.writeMessage(msg)
}

// initialize starts a session: the response's session id and negotiated protocol version
// are in force before the client sees the result, so that whatever it sends next carries them.
func (r *Relay) initialize(ctx context.Context, m *message) error {
	_, err := r.startSession(ctx, m, func(next *session, msg []byte, ids []string, result bool) {
		if result {
			r.endSession(r.sess.install(next, m.body))
			r.log.Debug("session started", "session", next.id != "", "protocol_version", next.protocolVersion)
		}
		r.emit(msg, ids, m)
	})
	return err
}

// startSession POSTs the initialize request m outside any session and passes every message of
// the answer to to, with result true for the initialize result. The new session carries the
// answer's Mcp-Session-Id and, by the time to sees the result, the protocol version the
// result negotiated. When no result arrived the session is cancelled and nil.
func (r *Relay) startSession(ctx context.Context, m *message, to func(next *session, msg []byte, ids []string, result bool)) (*session, error) {
	resp, err := r.send(ctx, exchange{method: http.MethodPost, body: m.body, msg: m})
	if err != nil {
		return nil, err
	}
	m.status = resp.StatusCode
	if err := r.checkStatus(resp, nil); err != nil {
		return nil, err
	}
	next := r.sess.newSession(resp.Header.Get(wire.HeaderSessionID))
	answered := false
	err = r.consume(ctx, m, resp, next, func(msg []byte, ids []string) {
		result := !answered && len(ids) > 0
		if result {
			next.protocolVersion = gjson.GetBytes(msg, "result.protocolVersion").String()
			answered = true
		}
		to(next, msg, ids, result)
	})
	if !answered {
		next.cancel()
		return nil, err
	}
	return next, err
}

// An exchange is one HTTP request of the relay's.
type exchange struct {
	method string
	body   []byte
	// sess is the 2025 session the request belongs to, if any.
	sess *session
	// msg is the client message being relayed, whose routing headers 2026 requires.
	msg *message
	// version is the MCP-Protocol-Version to send when there is no session: the 2026
	// version the message (or, for a notification, the client) speaks.
	version     string
	lastEventID string
}

// send makes one HTTP request through the relay's transport, which adds the credentials and
// retries what is transient. A refusal of fresh credentials is an error that says what to
// check; other statuses are the caller's to judge.
func (r *Relay) send(ctx context.Context, x exchange) (*http.Response, error) {
	// The response's body cancels the request when it is closed (see drainingBody).
	ctx, cancel := context.WithCancel(ctx)
	held := &heldBody{b: x.body}
	req, err := http.NewRequestWithContext(ctx, x.method, r.cfg.URL, nil)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("build %s request: %w", x.method, err)
	}
	if x.body != nil {
		req.Body, _ = held.reader()
		req.GetBody = held.reader
		req.ContentLength = int64(len(x.body))
	}
	r.setHeaders(req.Header, x)
	resp, err := r.rt.RoundTrip(req)
	held.b = nil // no more attempts: the request, which the transport keeps, lets the bytes go
	if err != nil {
		cancel()
		return nil, r.describeSendError(err)
	}
	resp.Body = &drainingBody{ReadCloser: resp.Body, cancel: cancel}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return nil, r.rejectionError(resp)
	}
	return resp, nil
}

// setHeaders sets the transport headers of x: content negotiation, the session and protocol
// version, and for 2026-07-28 the routing headers derived from the body.
func (r *Relay) setHeaders(h http.Header, x exchange) {
	h["User-Agent"] = []string{r.cfg.UserAgent}
	switch x.method {
	case http.MethodPost:
		h["Content-Type"] = []string{"application/json"}
		h["Accept"] = []string{"application/json, text/event-stream"}
	case http.MethodGet:
		h["Accept"] = []string{"text/event-stream"}
	}
	version := x.version
	if s := x.sess; s != nil {
		if s.id != "" {
			h[wire.HeaderSessionID] = []string{s.id}
		}
		if version == "" {
			version = s.protocolVersion
		}
	}
	if version != "" {
		h[wire.HeaderProtocolVersion] = []string{version}
	}
	if x.lastEventID != "" {
		h[wire.HeaderLastEventID] = []string{x.lastEventID}
	}
	if x.msg != nil && isStateless(version) {
		r.setRoutingHeaders(h, x.msg)
	}
}

// describeSendError turns a failed request into what the client should read.
func (r *Relay) describeSendError(err error) error {
	var authErr *authorizeError
	if errors.As(err, &authErr) {
		var startup *StartupError
		if errors.As(authErr.err, &startup) {
			return startup
		}
		return fmt.Errorf("could not get an ID token: %w", authErr.err)
	}
	return describeTransportError(err, r.endpoint.Host)
}

// checkStatus turns a non-2xx response into an error that says what it means, and closes it.
// An error the server phrased as JSON-RPC is relayed as the server said it.
func (r *Relay) checkStatus(resp *http.Response, s *session) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	defer discard(resp)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return fmt.Errorf("upstream answered HTTP %d redirecting to %q; the proxy never follows redirects so that the ID token goes nowhere else: use the final URL as --url", resp.StatusCode, resp.Header.Get("Location"))
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if serr := asServerError(resp.StatusCode, body); serr != nil {
		return serr
	}
	hint := ""
	switch resp.StatusCode {
	case http.StatusNotFound:
		if s == nil || s.id == "" {
			hint = " (check that --url is the MCP endpoint, often ending in /mcp)"
		} else {
			hint = " (the session was not found even after starting a new one)"
		}
	case http.StatusMethodNotAllowed, http.StatusNotAcceptable, http.StatusUnsupportedMediaType:
		hint = " (the URL does not speak MCP Streamable HTTP; check --url)"
	}
	// Only before a session: a server that started one here speaks Streamable HTTP.
	if (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed) && (s == nil || s.id == "") &&
		strings.HasSuffix(strings.TrimSuffix(r.endpoint.Path, "/"), "/sse") {
		hint = " (a URL ending in /sse is usually the older HTTP+SSE transport, which the proxy does not speak: point --url at the server's Streamable HTTP endpoint, often /mcp; `mcp-cloudrun-proxy debug` tells which)"
	}
	return statusError(resp.StatusCode, body, hint)
}

// consume relays the messages of a successful response through to: nothing for 202 or for a
// message that owes no answer, one JSON body, or every event of an SSE stream as it arrives.
func (r *Relay) consume(ctx context.Context, m *message, resp *http.Response, s *session, to sink) error {
	defer resp.Body.Close()
	expected := m.responsesExpected()
	if resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusNoContent {
		if expected > 0 {
			return fmt.Errorf("upstream answered HTTP %d with no response to the request", resp.StatusCode)
		}
		return nil
	}
	if expected == 0 {
		// Notifications and responses only: the server must answer 202 with no body
		// (Streamable HTTP since 2025-03-26). Some answer 200 with a body, which the SDKs' own
		// HTTP clients ignore. Relayed, it does harm: an answer without an id makes the
		// go-sdk client fail its next call, and one with an id could pass for the answer to a
		// request of the client's. The deferred Close drains it, within bounds: a stream the
		// server keeps open holds its slot for drainMaxWait (250 ms) and is then cancelled.
		if resp.ContentLength != 0 {
			r.log.Debug("ignoring the body of an answer to a message that owes none (the server should answer 202 with no body)", "method", m.method, "status", resp.StatusCode, "content_type", resp.Header.Get("Content-Type"))
		}
		return nil
	}
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch mediaType {
	case "text/event-stream":
		return r.relayStream(ctx, m, resp.Body, s, to)
	case "application/json":
		body, err := readBodyLimit(resp.Body, resp.ContentLength, int64(r.cfg.MaxMessageSize))
		if err != nil {
			return fmt.Errorf("read upstream response: %w%s", err, sizeHint(err))
		}
		if err := jsonscan.Valid(body, 0); err != nil {
			return fmt.Errorf("upstream answered HTTP %d with invalid JSON (%v): %s", resp.StatusCode, err, wire.Excerpt(body))
		}
		to(body, responseIDs(body, nil))
		return nil
	default:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("upstream answered HTTP %d with unexpected Content-Type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), wire.Excerpt(body))
	}
}

// relayStream relays the event stream answering a POST that owes responses. When it ends or
// breaks before every one has arrived, it is resumed with GET and Last-Event-ID, so the server replays
// only what came after the last event seen.
func (r *Relay) relayStream(ctx context.Context, m *message, body io.ReadCloser, s *session, to sink) error {
	pending := m.responsesExpected()
	if m.kind == kindBatch {
		relay := to
		to = func(msg []byte, ids []string) {
			m.noteAnswers(ids)
			relay(msg, ids)
		}
	}
	sr := r.sseBufs.Reader(body)
	defer r.sseBufs.Release(sr)
	// resumes counts resumptions that made no progress: a long call whose stream the server
	// or Cloud Run ends now and then goes on as long as each stream delivers something.
	resumes, progressID := 0, ""
	for {
		err := r.pumpEvents(sr, m, &pending, true, to)
		body.Close()
		if pending <= 0 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		why := "the stream ended"
		if errors.Is(err, sse.ErrEventTooLarge) {
			return fmt.Errorf("upstream event stream: %w%s", err, sizeHint(err))
		}
		if err != nil && !errors.Is(err, io.EOF) {
			why = "the stream broke: " + err.Error()
		}
		if s == nil || m.stateless() {
			return &streamEndedError{why: why}
		}
		if sr.LastEventID == "" {
			return fmt.Errorf("upstream event stream stopped before the response arrived (%s) and cannot be resumed: the server sent no event ids", why)
		}
		if sr.LastEventID != progressID {
			resumes, progressID = 0, sr.LastEventID
		}
		if resumes >= r.cfg.ResumeMax {
			return fmt.Errorf("upstream event stream stopped before the response arrived (%s); gave up after %d resumptions without progress", why, resumes)
		}
		resumes++
		r.log.Debug("resuming event stream", "reason", why, "attempt", resumes)
		if err := sleep(ctx, orDefault(sr.Retry, r.cfg.ReconnectDelay)); err != nil {
			return err
		}
		// A failed resumption that may succeed later (a network error, a 5xx) counts as an
		// empty stream: the next turn of the loop tries again within the budget.
		body = io.NopCloser(eofReader{})
		resp, err := r.send(ctx, exchange{method: http.MethodGet, sess: s, lastEventID: sr.LastEventID})
		switch {
		case err != nil:
			r.log.Debug("resuming event stream failed", "error", err)
		case resp.StatusCode >= 500:
			discard(resp)
		case resp.StatusCode != http.StatusOK || !isEventStream(resp):
			err := r.checkStatus(resp, s)
			if err == nil {
				discard(resp)
				err = fmt.Errorf("upstream answered HTTP %d with Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			return fmt.Errorf("upstream event stream stopped before the response arrived (%s) and resuming it failed: %w", why, err)
		default:
			body = resp.Body
		}
		sr = sr.ContinueWith(body)
	}
}

// A streamEndedError is a 2026-07-28 response stream that ended before its response: such
// streams cannot be resumed, and the request is not sent again (it may have run).
type streamEndedError struct{ why string }

func (e *streamEndedError) Error() string {
	return "upstream event stream stopped before the response arrived (" + e.why + "); protocol 2026-07-28 streams cannot be resumed and the request may have run, so it was not sent again"
}

// pumpEvents writes each event's message through to until the stream ends or, when
// untilDone, the responses owed to m have all arrived (an answer with another id, such as a
// server's id-null error, is relayed but owes nothing).
func (r *Relay) pumpEvents(sr *sse.Reader, m *message, pending *int, untilDone bool, to sink) error {
	var ids []string
	for !untilDone || *pending > 0 {
		ev, err := sr.Next()
		if err != nil {
			return err
		}
		if err := jsonscan.Valid(ev.Data, 0); err != nil {
			r.log.Warn("dropping an upstream event whose data is not JSON", "bytes", len(ev.Data), "error", err)
			continue
		}
		ids = responseIDs(ev.Data, ids[:0])
		if untilDone {
			*pending -= m.owned(ids)
		}
		to(ev.Data, ids)
	}
	return nil
}

func isEventStream(resp *http.Response) bool {
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return mediaType == "text/event-stream"
}

// sizeHint names the setting to raise when a message was too large.
func sizeHint(err error) string {
	if errors.Is(err, errBodyTooLarge) || errors.Is(err, sse.ErrEventTooLarge) {
		return " (raise --max-message-size if the server's answers are really this large)"
	}
	return ""
}

// discard drains a little of a body so the connection can be reused, then closes it.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64*1024))
	resp.Body.Close()
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// orDefault returns d, or def when d is zero.
func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
