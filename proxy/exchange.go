package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/tidwall/gjson"
)

// Header names of the Streamable HTTP transport.
const (
	headerSessionID       = "Mcp-Session-Id"
	headerProtocolVersion = "MCP-Protocol-Version"
	headerLastEventID     = "Last-Event-ID"
)

// handle relays one client line and makes sure a request always gets an answer.
func (r *Relay) handle(ctx context.Context, m *message) {
	if m.kind == kindInvalid {
		r.log.Warn("stdin: line is not a JSON-RPC message; answering with a parse error", "bytes", m.size)
		r.out.writeMessage(parseErrorResponse)
		return
	}
	if m.kind == kindRequest {
		var untrack func()
		ctx, untrack = r.pending.track(ctx, m.id)
		defer untrack()
	}
	start := time.Now()
	err := r.deliver(ctx, m)
	if m.kind == kindNotification && m.method == "notifications/cancelled" {
		// The server has been told; the relay stops waiting for the answer too, since some
		// servers never send one for a cancelled request and the client ignores it anyway.
		r.pending.cancel(gjson.GetBytes(m.body, "params.requestId").Raw)
	}
	attrs := []any{"method", m.method, "id", string(m.id), "status", m.status, "bytes", m.size, "latency", time.Since(start).Round(time.Microsecond)}
	if err == nil {
		r.log.Debug("relayed", attrs...)
		return
	}
	if errors.Is(context.Cause(ctx), errCancelledByClient) {
		r.log.Debug("request cancelled by the client", attrs...)
		return
	}
	if m.responsesExpected() > 0 {
		r.log.Warn("request failed; answering with an error", append(attrs, "error", err)...)
		r.replyError(m, err)
		return
	}
	r.log.Warn("could not deliver message", append(attrs, "error", err)...)
}

// deliver POSTs m and relays what comes back. A 404 on a request that carried a session id
// means the server dropped the session: a new one is started and m is sent once more.
func (r *Relay) deliver(ctx context.Context, m *message) error {
	if m.kind == kindRequest && m.method == "initialize" {
		return r.initialize(ctx, m)
	}
	s := r.sess.current()
	renewed := false
	for {
		resp, err := r.send(ctx, http.MethodPost, m.body, s, "")
		if err != nil {
			return err
		}
		m.status = resp.StatusCode
		if resp.StatusCode == http.StatusNotFound && s.id != "" && !renewed {
			discard(resp)
			r.log.Info("upstream session expired; starting a new one and resending", "method", m.method)
			if s, err = r.renewSession(ctx, s); err != nil {
				return fmt.Errorf("the server ended the session and a new one could not be started: %w", err)
			}
			renewed = true
			continue
		}
		if err := r.checkStatus(resp, s); err != nil {
			return err
		}
		if m.kind == kindRequest || m.kind == kindBatch {
			// The request was taken: nothing sends it again. A large one need not stay in
			// memory while a large answer is read (an 8 MiB echo held both).
			m.body = nil
		}
		if err := r.consume(ctx, m, resp, s, r.out.writeMessage); err != nil {
			return err
		}
		if m.kind == kindNotification && m.method == "notifications/initialized" {
			r.sess.rememberInitialized(m.body)
			r.startStandaloneStream(s)
		}
		return nil
	}
}

// initialize starts a session: the response's session id and negotiated protocol version
// are in force before the client sees the result, so that whatever it sends next carries them.
func (r *Relay) initialize(ctx context.Context, m *message) error {
	_, err := r.startSession(ctx, m, func(next *session, msg []byte, result bool) {
		if result {
			r.endSession(r.sess.install(next, m.body))
			r.log.Debug("session started", "session", next.id != "", "protocol_version", next.protocolVersion)
		}
		r.out.writeMessage(msg)
	})
	return err
}

// startSession POSTs the initialize request m outside any session and passes every message of
// the answer to sink, with result true for the initialize result. The new session carries the
// answer's Mcp-Session-Id and, by the time sink sees the result, the protocol version the
// result negotiated. When no result arrived the session is cancelled and nil.
func (r *Relay) startSession(ctx context.Context, m *message, sink func(next *session, msg []byte, result bool)) (*session, error) {
	resp, err := r.send(ctx, http.MethodPost, m.body, &session{}, "")
	if err != nil {
		return nil, err
	}
	m.status = resp.StatusCode
	if err := r.checkStatus(resp, nil); err != nil {
		return nil, err
	}
	next := r.sess.newSession(resp.Header.Get(headerSessionID))
	answered := false
	err = r.consume(ctx, m, resp, next, func(msg []byte) {
		result := !answered && countResponses(msg) > 0
		if result {
			next.protocolVersion = gjson.GetBytes(msg, "result.protocolVersion").String()
			answered = true
		}
		sink(next, msg, result)
	})
	if !answered {
		next.cancel()
		return nil, err
	}
	return next, err
}

// send makes one HTTP request with the bearer token, retrying transient failures. A 401 or 403
// marks the token rejected and the request is sent once more with a fresh one; a second
// rejection is an error that says what to check.
func (r *Relay) send(ctx context.Context, method string, body []byte, s *session, lastEventID string) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		token, err := r.cfg.Tokens.Token(ctx)
		if err != nil {
			return nil, fmt.Errorf("could not get an ID token: %w", err)
		}
		resp, err := r.roundTrip(ctx, method, body, token, s, lastEventID)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			return resp, nil
		}
		r.cfg.Tokens.Rejected(token)
		if attempt == 0 {
			discard(resp)
			r.log.Info("upstream rejected the ID token; fetching a fresh one and retrying", "status", resp.StatusCode, "method", method)
			continue
		}
		return nil, r.rejectionError(resp, token)
	}
}

func (r *Relay) roundTrip(ctx context.Context, method string, body []byte, token string, s *session, lastEventID string) (*http.Response, error) {
	var rawBody any
	held := &heldBody{b: body}
	if body != nil {
		rawBody = retryablehttp.ReaderFunc(held.reader)
	}
	// reused says whether the current attempt went out on a kept-alive connection.
	var reused atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { reused.Store(info.Reused) },
	})
	// The response's body cancels this context when it is closed (see drainingBody).
	ctx, cancel := context.WithCancel(ctx)
	req, err := retryablehttp.NewRequestWithContext(ctx, method, r.cfg.URL, rawBody)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("build %s request: %w", method, err)
	}
	h := req.Header
	h.Set("User-Agent", r.cfg.UserAgent)
	h.Set("Authorization", "Bearer "+token)
	switch method {
	case http.MethodPost:
		h.Set("Content-Type", "application/json")
		h.Set("Accept", "application/json, text/event-stream")
	case http.MethodGet:
		h.Set("Accept", "text/event-stream")
	}
	if s != nil && s.id != "" {
		h.Set(headerSessionID, s.id)
	}
	if s != nil && s.protocolVersion != "" {
		h.Set(headerProtocolVersion, s.protocolVersion)
	}
	if lastEventID != "" {
		h.Set(headerLastEventID, lastEventID)
	}
	var attemptStart time.Time
	client := retryablehttp.Client{
		HTTPClient:   r.http,
		RetryWaitMin: r.cfg.RetryWaitMin,
		RetryWaitMax: r.cfg.RetryWaitMax,
		RetryMax:     r.cfg.RetryMax,
		RequestLogHook: func(retryablehttp.Logger, *http.Request, int) {
			attemptStart = time.Now()
			reused.Store(false)
		},
		CheckRetry: func(ctx context.Context, resp *http.Response, err error) (bool, error) {
			return r.checkRetry(ctx, resp, err, time.Since(attemptStart), reused.Load())
		},
		Backoff:      backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	resp, err := client.Do(req)
	held.b = nil // no more attempts: the request, which the transport keeps, lets the bytes go
	if err != nil {
		cancel()
		return nil, describeTransportError(err, r.endpoint.Host)
	}
	resp.Body = &drainingBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// checkRetry retries what cannot have reached the server's handler (a refused connection) and
// what the Cloud Run front end answers while it scales (429, 502, 503, 504). A request that
// may have run is never replayed: a 502 or 504 that took longer than
// [Config.GatewayRetryWindow] is the request timing out in the handler, not the front end
// failing to reach one, and is reported instead. A kept-alive connection that the server
// closes as the request goes out (EOF or reset before any answer) counts as not sent: servers
// and load balancers close idle connections, and Go's transport replays a POST only when it
// sees the close before writing.
func (r *Relay) checkRetry(ctx context.Context, resp *http.Response, err error, took time.Duration, reusedConn bool) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		retry := notSent(err) || (reusedConn && closedByPeer(err))
		if retry {
			r.log.Debug("connection failed before the request was sent; retrying", "error", err)
		}
		return retry, nil
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		if took > r.cfg.GatewayRetryWindow {
			r.log.Debug("gateway error after the request ran a while; not retrying", "status", resp.StatusCode, "took", took)
			return false, nil
		}
		fallthrough
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		r.log.Debug("transient upstream status; retrying", "status", resp.StatusCode, "retry_after", resp.Header.Get("Retry-After"))
		return true, nil
	}
	return false, nil
}

// closedByPeer reports whether err is the server closing the connection before answering.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// notSent reports whether err happened while connecting, before any byte of the request left.
func notSent(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsTemporary || dnsErr.IsTimeout
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// backoff is exponential with jitter between min and max; Retry-After wins when present, up
// to max, so one slow-down request cannot stall a request for minutes.
func backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After")); ok {
			return min(d, maxWait)
		}
	}
	d := minWait << attempt
	if d <= 0 || d > maxWait {
		d = maxWait
	}
	return d/2 + rand.N(d/2+1)
}

func parseRetryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// checkStatus turns a non-2xx response into an error that says what it means, and closes it.
func (r *Relay) checkStatus(resp *http.Response, s *session) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	defer discard(resp)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return fmt.Errorf("upstream answered HTTP %d redirecting to %q; the proxy never follows redirects so that the ID token goes nowhere else: use the final URL as --url", resp.StatusCode, resp.Header.Get("Location"))
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
	return statusError(resp, hint)
}

// consume relays the messages of a successful response through sink: nothing for 202, one
// JSON body, or every event of an SSE stream as it arrives.
func (r *Relay) consume(ctx context.Context, m *message, resp *http.Response, s *session, sink func([]byte)) error {
	defer resp.Body.Close()
	expected := m.responsesExpected()
	if resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusNoContent {
		if expected > 0 {
			return fmt.Errorf("upstream answered HTTP %d with no response to the request", resp.StatusCode)
		}
		return nil
	}
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch mediaType {
	case "text/event-stream":
		return r.relayStream(ctx, m, resp.Body, s, sink)
	case "application/json":
		body, err := readBody(resp)
		if err != nil {
			return fmt.Errorf("read upstream response: %w", err)
		}
		if len(body) == 0 && expected == 0 {
			return nil
		}
		if !gjson.ValidBytes(body) {
			return fmt.Errorf("upstream answered HTTP %d with invalid JSON: %s", resp.StatusCode, excerpt(body))
		}
		sink(body)
		return nil
	default:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if expected == 0 && len(body) == 0 {
			return nil
		}
		return fmt.Errorf("upstream answered HTTP %d with unexpected Content-Type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), excerpt(body))
	}
}

// relayStream relays a POST's event stream. When it ends or breaks before every response the
// request is owed has arrived, it is resumed with GET and Last-Event-ID, so the server replays
// only what came after the last event seen.
func (r *Relay) relayStream(ctx context.Context, m *message, body io.ReadCloser, s *session, sink func([]byte)) error {
	expected := m.responsesExpected()
	pending := expected
	if m.kind == kindBatch {
		relay := sink
		sink = func(msg []byte) {
			m.noteAnswers(msg)
			relay(msg)
		}
	}
	sr := r.sseBufs.reader(body)
	defer r.sseBufs.release(sr)
	// resumes counts resumptions that made no progress: a long call whose stream the server
	// or Cloud Run ends now and then goes on as long as each stream delivers something.
	resumes, progressID := 0, ""
	for {
		err := r.pumpEvents(sr, &pending, expected > 0, sink)
		body.Close()
		if expected == 0 || pending <= 0 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		why := "the stream ended"
		if err != nil && !errors.Is(err, io.EOF) {
			why = "the stream broke: " + err.Error()
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
		resp, err := r.send(ctx, http.MethodGet, nil, s, sr.LastEventID)
		switch {
		case err != nil:
			r.log.Debug("resuming event stream failed", "error", err)
		case resp.StatusCode >= 500:
			discard(resp)
		case resp.StatusCode != http.StatusOK || !isEventStream(resp):
			err := statusError(resp, "")
			discard(resp)
			return fmt.Errorf("upstream event stream stopped before the response arrived (%s) and resuming it failed: %w", why, err)
		default:
			body = resp.Body
		}
		sr = sr.continueWith(body)
	}
}

// pumpEvents writes each event's message through sink until the stream ends or, when
// untilDone, the owed responses have all arrived.
func (r *Relay) pumpEvents(sr *sseReader, pending *int, untilDone bool, sink func([]byte)) error {
	for !untilDone || *pending > 0 {
		ev, err := sr.next()
		if err != nil {
			return err
		}
		if !gjson.ValidBytes(ev.Data) {
			r.log.Warn("dropping an upstream event whose data is not JSON", "bytes", len(ev.Data))
			continue
		}
		*pending -= countResponses(ev.Data)
		sink(ev.Data)
	}
	return nil
}

func isEventStream(resp *http.Response) bool {
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return mediaType == "text/event-stream"
}

// readBody reads a whole response body, sized up front when the length is known so that a
// large message is read without repeated growth.
func readBody(resp *http.Response) ([]byte, error) {
	if resp.ContentLength > 0 && resp.ContentLength < 1<<31 {
		buf := make([]byte, resp.ContentLength)
		_, err := io.ReadFull(resp.Body, buf)
		return buf, err
	}
	return io.ReadAll(resp.Body)
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
