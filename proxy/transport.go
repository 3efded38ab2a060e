package proxy

import (
	"context"
	"errors"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy/internal/rawio"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// An Authorizer puts credentials on the relay's upstream requests. The relay never sees the
// credential itself: it hands over the headers and says when the server refused them.
type Authorizer interface {
	// Authorize sets the credentials (an Authorization header) on h, fetching them only
	// when none is cached. An error it returns is shown to the client as it is when it is a
	// [*StartupError], and prefixed with "could not get an ID token" otherwise.
	Authorize(ctx context.Context, h http.Header) error
	// Rejected reports that the server answered 401 or 403 to a request whose headers were
	// h, so that the credentials set there are not used again.
	Rejected(h http.Header)
}

// A StartupError is an [Authorizer] failure that no retry can mend (no credentials, a broken
// key file, gcloud missing): the relay answers every request with its text, unchanged, and
// [Relay.Run] returns it once stdin ends.
type StartupError struct{ Err error }

func (e *StartupError) Error() string { return e.Err.Error() }
func (e *StartupError) Unwrap() error { return e.Err }

// A budget is what one client message may spend on retries, whatever their cause (a refused
// connection, 429, 502/504 from the front end, 503, a rejected token, a session the server
// dropped): a number of extra attempts and a deadline for starting them. Every HTTP request
// made on the message's behalf draws from it, so causes never multiply each other's budgets.
type budget struct {
	mu       sync.Mutex
	left     int
	deadline time.Time
}

type budgetKey struct{}

func newBudget(retries int, d time.Duration) *budget {
	return &budget{left: retries, deadline: time.Now().Add(d)}
}

// withBudget attaches b to ctx for the requests made under it.
func withBudget(ctx context.Context, b *budget) context.Context {
	return context.WithValue(ctx, budgetKey{}, b)
}

// take spends one retry that would start after wait, if the budget allows it.
func (b *budget) take(wait time.Duration) bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left <= 0 || time.Now().Add(wait).After(b.deadline) {
		return false
	}
	b.left--
	return true
}

func budgetFrom(ctx context.Context) *budget {
	b, _ := ctx.Value(budgetKey{}).(*budget)
	return b
}

// CloseIdleConnections closes the idle connections of the transport underneath.
func (t *authTransport) CloseIdleConnections() { closeIdle(t.next) }

// CloseIdleConnections closes the idle connections of the transport underneath.
func (t *retryTransport) CloseIdleConnections() { closeIdle(t.next) }

func closeIdle(rt http.RoundTripper) {
	if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// authTransport is the outer layer of the relay's transport: it sets the credentials and, when
// the server refuses them, marks them rejected and tries once more with fresh ones, within
// the request's budget. A second refusal is returned as it is, for the relay to explain.
type authTransport struct {
	auth Authorizer
	next http.RoundTripper
	log  *slog.Logger
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		try, err := attemptOf(req, attempt)
		if err != nil {
			return nil, err
		}
		if err := t.auth.Authorize(req.Context(), try.Header); err != nil {
			return nil, &authorizeError{err}
		}
		resp, err := t.next.RoundTrip(try)
		if err != nil || (resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden) {
			return resp, err
		}
		t.auth.Rejected(try.Header)
		if attempt > 0 || !budgetFrom(req.Context()).take(0) {
			return resp, nil
		}
		discard(resp)
		t.log.Info("upstream rejected the ID token; fetching a fresh one and retrying", "status", resp.StatusCode, "method", req.Method)
	}
}

// authorizeError marks a failure to get credentials, as opposed to a network failure.
type authorizeError struct{ err error }

func (e *authorizeError) Error() string { return e.err.Error() }
func (e *authorizeError) Unwrap() error { return e.err }

// attemptOf returns the request for one attempt: req itself for the first (the relay builds
// every request afresh and nothing else holds it, so the layers may set headers on it; a
// copy per layer cost a tenth of the relay's CPU per message), a copy with headers of its
// own and a fresh body for the others.
func attemptOf(req *http.Request, attempt int) (*http.Request, error) {
	if attempt == 0 {
		return req, nil
	}
	try := req.Clone(req.Context())
	if req.GetBody == nil {
		return try, nil
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	try.Body = body
	return try, nil
}

// retryTransport retries what cannot have reached the server's handler: a refused connection,
// a kept-alive connection the server closed as the request went out, and what the Cloud Run
// front end answers while it scales (429, 503, and 502/504 within the gateway window). It
// waits with exponential backoff and jitter, honouring Retry-After, within the request's
// budget.
type retryTransport struct {
	next          http.RoundTripper
	log           *slog.Logger
	waitMin       time.Duration
	waitMax       time.Duration
	gatewayWindow time.Duration
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		try, err := attemptOf(req, attempt)
		if err != nil {
			return nil, err
		}
		var reused atomic.Bool
		try = try.WithContext(httptrace.WithClientTrace(try.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { reused.Store(info.Reused) },
		}))
		start := time.Now()
		resp, err := t.next.RoundTrip(try)
		if !t.transient(resp, err, time.Since(start), reused.Load()) {
			return resp, err
		}
		wait := t.backoff(attempt, resp)
		if !budgetFrom(req.Context()).take(wait) {
			if err == nil {
				t.log.Debug("transient upstream status; retry budget spent", "status", resp.StatusCode)
			}
			return resp, err
		}
		if err == nil {
			t.log.Debug("transient upstream status; retrying", "status", resp.StatusCode, "retry_after", resp.Header.Get("Retry-After"), "wait", wait)
			discard(resp)
		} else {
			t.log.Debug("connection failed before the request was sent; retrying", "error", err, "wait", wait)
		}
		if err := sleep(req.Context(), wait); err != nil {
			return nil, err
		}
	}
}

// transient reports whether an attempt's outcome may be retried. A request that may have run
// is never replayed: a 502 or 504 that took longer than the gateway window is the request
// timing out in the handler, not the front end failing to reach an instance.
func (t *retryTransport) transient(resp *http.Response, err error, took time.Duration, reused bool) bool {
	if err != nil {
		return notSent(err) || (reused && closedByPeer(err))
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return took <= t.gatewayWindow
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return true
	}
	return false
}

// backoff is exponential with jitter between waitMin and waitMax; Retry-After wins when
// present, up to waitMax, so one slow-down answer cannot stall a request for minutes.
func (t *retryTransport) backoff(attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After")); ok {
			return min(d, t.waitMax)
		}
	}
	d := t.waitMin << min(attempt, 16)
	if d <= 0 || d > t.waitMax {
		d = t.waitMax
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

// closedByPeer reports whether err is the server closing the connection before answering.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		strings.Contains(err.Error(), errServerClosedIdleText)
}

// errServerClosedIdleText is the text of net/http's error for a kept-alive connection the
// server closed while it was idle, before the request was handed to it: the server never read
// the request (net/http retries it by itself only for idempotent methods). The error is
// unexported, so its text is matched; the tests use this constant, so a rewording in a new Go
// release would go unnoticed by them and only stop these retries.
const errServerClosedIdleText = "http: server closed idle connection"

// notSent reports whether err happened while connecting, before any byte of the request left.
func notSent(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsTemporary || dnsErr.IsTimeout
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// newTransport is the relay's one transport: credentials over retries over pooled
// keep-alive connections (enough idle ones per host for hundreds of concurrent requests,
// HTTP/2 where the server offers it, no overall timeout since event streams stay open).
func newTransport(cfg *Config, base http.RoundTripper, log *slog.Logger) http.RoundTripper {
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = 512
		t.MaxIdleConnsPerHost = 256
		t.ForceAttemptHTTP2 = true
		dial := t.DialContext // the default transport's dialer and its timeouts
		t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return rawio.Conn(c), nil
		}
		base = t
	}
	retry := &retryTransport{next: base, log: log, waitMin: cfg.RetryWaitMin, waitMax: cfg.RetryWaitMax, gatewayWindow: cfg.GatewayRetryWindow}
	return &authTransport{auth: cfg.Auth, next: retry, log: log}
}
