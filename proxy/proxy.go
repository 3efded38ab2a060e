package proxy

import (
	"context"
	"errors"
	"fmt"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy/internal/rawio"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy/internal/sse"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a [Relay]. The zero value of every optional field is a documented default.
type Config struct {
	// URL is the Streamable HTTP MCP endpoint. Required.
	URL string
	// Auth puts credentials on every upstream request. Required.
	Auth Authorizer
	// Transport carries the requests under the relay's own credential and retry layers. Nil
	// means pooled keep-alive connections with HTTP/2 where offered. Redirects are never
	// followed: a bearer token must not travel to another host.
	Transport http.RoundTripper
	// UserAgent is sent on every request. Empty means "mcp-cloudrun-proxy".
	UserAgent string
	// Logger receives the relay's logs. Nil means no logs.
	Logger *slog.Logger
	// ShutdownGrace is how long in-flight requests may run after stdin ends or ctx is
	// cancelled. Zero means 2 seconds: MCP clients send SIGTERM a few seconds after closing
	// stdin, and the session should be deleted before that.
	ShutdownGrace time.Duration
	// RetryMax is how many times the requests made for one client message may be retried in
	// all, whatever the cause: a refused connection, 429, 502/504 from the front end, 503, a
	// rejected token, a session the server dropped. Zero means 6, so 7 tries in all (room for
	// a token refresh and a session renewal on top of a cold start's 503s); negative means
	// none.
	RetryMax int
	// RetryBudget is how long after a client message arrived a retry may still start. Zero
	// means 20 seconds, so that a client's first request is answered inside the 30-second
	// connection timeout of Claude Code and opencode.
	RetryBudget time.Duration
	// RetryWaitMin and RetryWaitMax bound the exponential backoff between retries; a
	// Retry-After header is honoured up to RetryWaitMax. Zero means 250ms and 7.5s.
	RetryWaitMin, RetryWaitMax time.Duration
	// GatewayRetryWindow bounds which 502 and 504 answers are retried: only those that came
	// back within it, from a front end that could not reach an instance. Later ones mean the
	// request ran into its timeout, and running it again could repeat a tool's side effects.
	// Zero means 10 seconds.
	GatewayRetryWindow time.Duration
	// ResumeMax is how many times in a row a broken event stream is resumed with
	// Last-Event-ID without delivering anything before the request fails. Zero means 5.
	ResumeMax int
	// ReconnectDelay is the wait before resuming a stream when the server sent no retry
	// field. Zero means 1 second.
	ReconnectDelay time.Duration
	// RejectionHint returns what is added to the error a client sees when the server rejects
	// freshly fetched credentials, e.g. which audience was used and by whom. Nil adds nothing.
	RejectionHint func() string
	// MaxMessageSize is the largest message, in bytes, the relay accepts from stdin (a line)
	// or from the server (a JSON body or one event); a larger one is answered with an error
	// and the relay goes on. Zero means 64 MiB.
	MaxMessageSize int
	// MaxInFlight bounds the client requests relayed at once. When it is reached (a client
	// that stopped reading stdout holds every answer up), stdin is not read until one ends,
	// so memory stays bounded. Zero means 512.
	MaxInFlight int
	// StreamReadyWait bounds how long the message after the handshake waits for the
	// standalone event stream to open, so that a server request sent right after
	// initialization has somewhere to go. Zero means 3 seconds.
	StreamReadyWait time.Duration
	// OnIdle, when set, is called each time no client message has been in flight for
	// IdleAfter, once per quiet spell: the process may give memory back then.
	OnIdle func()
	// IdleAfter is how long the relay is quiet before OnIdle is called. Zero means 500 ms:
	// the turn of an MCP client (a person reading, a model thinking) lasts seconds.
	IdleAfter time.Duration
}

// A Relay connects one stdio MCP client to one Streamable HTTP MCP server.
type Relay struct {
	cfg      Config
	endpoint *url.URL
	// rt makes the relay's requests: credentials over retries over pooled connections. It
	// is called directly, without an http.Client: the relay never follows redirects, and a
	// Client copies every request's headers for the redirects it might follow.
	rt  http.RoundTripper
	log *slog.Logger
	out *lineWriter

	sess    sessionState
	streams sync.WaitGroup // standalone GET streams and background DELETEs
	sseBufs sse.Pool
	pending pendingRequests
	tools   toolHeaders
	// clientVersion is the latest 2026 protocol version the client put in a request's _meta,
	// for the headers of its notifications, which carry none.
	clientVersion atomic.Value
	// startupErr is the first [StartupError] the authorizer returned, for Run to return.
	startupErr atomic.Pointer[StartupError]
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
	if cfg.Auth == nil {
		return nil, errors.New("proxy: no authorizer")
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "mcp-cloudrun-proxy"
	}
	if cfg.ShutdownGrace == 0 {
		cfg.ShutdownGrace = 2 * time.Second
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = 6
	} else if cfg.RetryMax < 0 {
		cfg.RetryMax = 0
	}
	if cfg.RetryBudget == 0 {
		cfg.RetryBudget = 20 * time.Second
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = defaultMaxMessageSize
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 512
	}
	if cfg.StreamReadyWait == 0 {
		cfg.StreamReadyWait = 3 * time.Second
	}
	if cfg.IdleAfter <= 0 {
		cfg.IdleAfter = 500 * time.Millisecond
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
	r := &Relay{cfg: cfg, endpoint: u, rt: newTransport(&cfg, cfg.Transport, logger), log: logger}
	r.sseBufs.MaxEvent = cfg.MaxMessageSize
	return r, nil
}

// Run relays messages from stdin to the server and from the server to stdout until stdin
// ends, ctx is cancelled or stdout fails. Requests still in flight then get
// [Config.ShutdownGrace] to finish; the session is deleted upstream. Run returns an error when
// stdin or stdout failed, or the [StartupError] that kept the relay from working.
func (r *Relay) Run(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	stdin, stdout, restore := rawStdio(stdin, stdout)
	defer restore()
	r.out = newLineWriter(stdout, r.log)

	// work is cancelled once the grace period after shutdown runs out.
	work, cancelWork := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelWork(nil)
	r.sess.init(work)

	d := &dispatcher{r: r, ctx: ctx, work: work, barrier: closedChan(), slots: make(chan struct{}, r.cfg.MaxInFlight), workers: &workers{ctx: work, idleAfter: time.Second}}
	end := make(chan error, 1)
	go func() { end <- d.readStdin(stdin) }()
	runErr := r.awaitShutdown(ctx, end)
	d.close()

	// Listen streams never end by themselves: the client is gone, so they end now.
	r.pending.cancelListens(errShuttingDown)
	if !waitTimeout(&d.inflight, r.cfg.ShutdownGrace) {
		r.log.Warn("requests still in flight after the shutdown grace period; cancelling them", "grace", r.cfg.ShutdownGrace)
	}
	cancelWork(errShuttingDown)
	r.sess.stopStreams()
	d.inflight.Wait()
	r.streams.Wait()

	r.deleteSession(context.WithoutCancel(ctx), r.sess.current())
	closeIdle(r.rt)
	if err := r.out.err(); err != nil && runErr == nil {
		runErr = fmt.Errorf("write stdout: %w", err)
	}
	if se := r.startupErr.Load(); se != nil && runErr == nil {
		runErr = se
	}
	return runErr
}

// rawStdio has stdin and stdout read and written as rawio does when they are pipes or
// sockets, as an MCP client's are; restore undoes it.
func rawStdio(stdin io.Reader, stdout io.Writer) (io.Reader, io.Writer, func()) {
	restoreIn, restoreOut := func() {}, func() {}
	if f, ok := stdin.(*os.File); ok {
		stdin, restoreIn = rawio.File(f)
	}
	if f, ok := stdout.(*os.File); ok {
		stdout, restoreOut = rawio.File(f)
	}
	return stdin, stdout, func() { restoreIn(); restoreOut() }
}

// awaitShutdown waits until stdin ends, ctx is cancelled or stdout fails.
func (r *Relay) awaitShutdown(ctx context.Context, end <-chan error) error {
	select {
	case err := <-end:
		r.log.Debug("stdin closed; shutting down")
		if err != nil {
			return fmt.Errorf("read stdin: %w", err)
		}
	case <-r.out.failed:
		r.log.Warn("stdout is closed: the client is gone; shutting down")
	case <-ctx.Done():
		r.log.Debug("shutdown requested", "cause", context.Cause(ctx))
	}
	return nil
}

// A dispatcher hands each stdin line to a goroutine of its own, from the goroutine that
// reads stdin (a channel between them cost a wake-up per message). Nothing overtakes the
// handshake: a message read after initialize or notifications/initialized is sent only once
// that one is done, as the server requires (barrier is closed when the latest such message
// is). At most MaxInFlight messages that await answers run at once: when they are all held
// up (a client not reading stdout), stdin is not read either.
type dispatcher struct {
	r         *Relay
	ctx, work context.Context
	barrier   chan struct{}
	slots     chan struct{}
	inflight  sync.WaitGroup

	mu      sync.Mutex
	closed  bool // no more handlers start: Run is waiting for those that did
	active  int  // handlers running
	quiet   *time.Timer
	workers *workers
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// readStdin reads lines until stdin ends, ctx is cancelled or the relay stops dispatching. A
// line above MaxMessageSize is skipped without being held and answered with a parse error at
// once. The reader may stay blocked on stdin after Run returns when ctx was cancelled; the
// process is exiting then.
func (d *dispatcher) readStdin(stdin io.Reader) error {
	r := d.r
	return readLinesLimit(stdin, r.cfg.MaxMessageSize, d.dispatch, func(size int64) bool {
		r.log.Warn("stdin: line larger than the maximum message size; answering with a parse error", "bytes", size, "max", r.cfg.MaxMessageSize)
		r.out.writeMessage(tooLargeResponse(r.cfg.MaxMessageSize))
		return true
	})
}

// dispatch starts the handling of one line; it reports false once the relay shuts down.
func (d *dispatcher) dispatch(line []byte) bool {
	m := classify(line)
	after := d.barrier
	if m.kind == kindResponse {
		// The client's answer to a server request (such as a ping sent during initialize)
		// may be what the handshake is waiting for.
		after = nil
	}
	var done chan struct{}
	if m.isHandshake() {
		done = make(chan struct{})
		d.barrier = done
	}
	if !d.r.takeSlot(d.ctx, &m, d.slots) || !d.start() {
		return false
	}
	d.workers.run(func() {
		defer d.finish()
		defer d.r.releaseSlot(&m, d.slots)
		if done != nil {
			defer close(done)
		}
		if after != nil {
			select {
			case <-after:
			case <-d.work.Done():
			}
		}
		d.r.handle(d.work, &m)
	})
	return true
}

// start counts one more handler unless the relay is shutting down.
func (d *dispatcher) start() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || d.ctx.Err() != nil {
		return false
	}
	d.inflight.Add(1)
	d.active++
	if d.quiet != nil {
		d.quiet.Stop()
	}
	return true
}

// finish counts a handler out; the last one starts the wait for Config.OnIdle.
func (d *dispatcher) finish() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.active--
	d.inflight.Done()
	if d.active > 0 || d.closed || d.r.cfg.OnIdle == nil {
		return
	}
	if d.quiet == nil {
		d.quiet = time.AfterFunc(d.r.cfg.IdleAfter, d.r.cfg.OnIdle)
		return
	}
	d.quiet.Reset(d.r.cfg.IdleAfter)
}

// close stops new handlers from starting.
func (d *dispatcher) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	if d.quiet != nil {
		d.quiet.Stop()
	}
}

// takeSlot waits for room for m when it awaits an answer; notifications and the client's
// responses (notifications/cancelled among them) always go through. It reports false when the
// relay is shutting down instead.
func (r *Relay) takeSlot(ctx context.Context, m *message, slots chan struct{}) bool {
	if m.responsesExpected() == 0 {
		return true
	}
	select {
	case slots <- struct{}{}:
		return true
	default:
	}
	r.log.Debug("too many requests in flight; pausing stdin until one ends", "max", r.cfg.MaxInFlight)
	select {
	case slots <- struct{}{}:
		return true
	case <-r.out.failed:
	case <-ctx.Done():
	}
	return false
}

func (r *Relay) releaseSlot(m *message, slots chan struct{}) {
	if m.responsesExpected() > 0 {
		<-slots
	}
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
