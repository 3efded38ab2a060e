package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// A TokenSource supplies the bearer tokens the relay puts on every upstream request.
type TokenSource interface {
	// Token returns a currently valid token, fetching one only when none is cached.
	Token(ctx context.Context) (string, error)
	// Rejected reports that the server answered 401 or 403 to a request carrying token, so
	// the next Token call must not return it again.
	Rejected(token string)
}

// Config configures a [Relay]. The zero value of every optional field is a documented default.
type Config struct {
	// URL is the Streamable HTTP MCP endpoint. Required.
	URL string
	// Tokens supplies bearer tokens. Required.
	Tokens TokenSource
	// HTTPClient sends the requests. Nil means [NewHTTPClient]. Redirects are never followed,
	// whatever the client's own policy: a bearer token must not travel to another host.
	HTTPClient *http.Client
	// UserAgent is sent on every request. Empty means "mcp-cloudrun-proxy".
	UserAgent string
	// Logger receives the relay's logs. Nil means no logs.
	Logger *slog.Logger
	// ShutdownGrace is how long in-flight requests may run after stdin ends or ctx is
	// cancelled. Zero means 2 seconds: MCP clients send SIGTERM a few seconds after closing
	// stdin, and the session should be deleted before that.
	ShutdownGrace time.Duration
	// RetryMax is how many times a request is retried after a transient failure (connection
	// refused, 429, 502, 503, 504). Zero means 4, so 5 tries in all; negative means none.
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the exponential backoff between retries; a
	// Retry-After header is honoured up to RetryWaitMax. Zero means 250ms and 7.5s, which keeps
	// the whole retry budget near 30 seconds.
	RetryWaitMin, RetryWaitMax time.Duration
	// GatewayRetryWindow bounds which 502 and 504 answers are retried: only those that came
	// back within it, from a front end that could not reach an instance. Later ones mean the
	// request ran into its timeout, and running it again could repeat a tool's side effects.
	// Zero means 10 seconds.
	GatewayRetryWindow time.Duration
	// ResumeMax is how many times a broken event stream is resumed with Last-Event-ID before
	// the request fails. Zero means 5.
	ResumeMax int
	// ReconnectDelay is the wait before resuming a stream when the server sent no retry
	// field. Zero means 1 second.
	ReconnectDelay time.Duration
	// RejectionHint is added to the error a client sees when the server rejects a freshly
	// fetched token, e.g. which audience was used and which role the principal needs.
	RejectionHint string
}

// A Relay connects one stdio MCP client to one Streamable HTTP MCP server.
type Relay struct {
	cfg      Config
	endpoint *url.URL
	http     *http.Client
	log      *slog.Logger
	out      *lineWriter

	sess    sessionState
	streams sync.WaitGroup // standalone GET streams and background DELETEs
	sseBufs sseBufferPool
	pending pendingRequests
}

// New checks cfg and returns a Relay ready to [Relay.Run].
func New(cfg Config) (*Relay, error) {
	if cfg.URL == "" {
		return nil, errors.New("proxy: no URL")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("proxy: parse URL: %w", err)
	}
	if cfg.Tokens == nil {
		return nil, errors.New("proxy: no token source")
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "mcp-cloudrun-proxy"
	}
	if cfg.ShutdownGrace == 0 {
		cfg.ShutdownGrace = 2 * time.Second
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = 4
	} else if cfg.RetryMax < 0 {
		cfg.RetryMax = 0
	}
	if cfg.RetryWaitMin == 0 {
		cfg.RetryWaitMin = 250 * time.Millisecond
	}
	if cfg.RetryWaitMax == 0 {
		cfg.RetryWaitMax = 7500 * time.Millisecond
	}
	if cfg.GatewayRetryWindow == 0 {
		cfg.GatewayRetryWindow = 10 * time.Second
	}
	if cfg.ResumeMax == 0 {
		cfg.ResumeMax = 5
	}
	if cfg.ReconnectDelay == 0 {
		cfg.ReconnectDelay = time.Second
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	client := cfg.HTTPClient
	if client == nil {
		client = NewHTTPClient()
	}
	// A shallow copy so that the caller's client keeps its own redirect policy.
	noRedirects := *client
	noRedirects.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Relay{cfg: cfg, endpoint: u, http: &noRedirects, log: logger}, nil
}

// NewHTTPClient returns the client the relay uses by default: pooled keep-alive connections
// (enough idle ones per host for hundreds of concurrent requests), HTTP/2 where the server
// offers it, and no overall timeout, since event streams may stay open for many minutes.
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 512
	t.MaxIdleConnsPerHost = 256
	t.ForceAttemptHTTP2 = true
	return &http.Client{Transport: t}
}

// Run relays messages from stdin to the server and from the server to stdout until stdin
// ends or ctx is cancelled. Requests still in flight then get [Config.ShutdownGrace] to
// finish; the session is deleted upstream and Run returns nil. It returns an error only when
// stdin or stdout fail.
func (r *Relay) Run(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	r.out = newLineWriter(stdout, r.log)

	// work is cancelled once the grace period after shutdown runs out.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	r.sess.init(work)

	var inflight sync.WaitGroup
	lines := make(chan []byte)
	readErr := make(chan error, 1)
	go func() {
		// The reader may stay blocked on stdin after Run returns when ctx was cancelled;
		// the process is exiting then, and closing stdin ends it.
		readErr <- readLines(stdin, func(line []byte) bool {
			select {
			case lines <- line:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()

	// Messages are relayed concurrently, except that nothing overtakes the handshake: a
	// message read after initialize or notifications/initialized is sent only once that one
	// is done, as the server requires. barrier is closed when the latest such message is.
	barrier := make(chan struct{})
	close(barrier)
	var runErr error
loop:
	for {
		select {
		case line := <-lines:
			m := classify(line)
			after := barrier
			if m.kind == kindResponse {
				// The client's answer to a server request (such as a ping sent during
				// initialize) may be what the handshake is waiting for.
				after = nil
			}
			var done chan struct{}
			if m.isHandshake() {
				done = make(chan struct{})
				barrier = done
			}
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				if done != nil {
					defer close(done)
				}
				if after != nil {
					select {
					case <-after:
					case <-work.Done():
					}
				}
				r.handle(work, &m)
			}()
		case err := <-readErr:
			if err != nil {
				runErr = fmt.Errorf("read stdin: %w", err)
			}
			r.log.Debug("stdin closed; shutting down")
			break loop
		case <-ctx.Done():
			r.log.Debug("shutdown requested", "cause", context.Cause(ctx))
			break loop
		}
	}

	if !waitTimeout(&inflight, r.cfg.ShutdownGrace) {
		r.log.Warn("requests still in flight after the shutdown grace period; cancelling them", "grace", r.cfg.ShutdownGrace)
	}
	cancelWork()
	r.sess.stopStreams()
	inflight.Wait()
	r.streams.Wait()

	r.deleteSession(context.WithoutCancel(ctx), r.sess.current())
	r.http.CloseIdleConnections()
	if err := r.out.err(); err != nil && runErr == nil {
		runErr = fmt.Errorf("write stdout: %w", err)
	}
	return runErr
}

// waitTimeout waits for wg up to d and reports whether it finished in time.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}
