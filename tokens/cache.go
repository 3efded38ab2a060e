package tokens

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

const (
	// fetchTimeout bounds one shared fetch, whoever waits for it.
	fetchTimeout = 2 * time.Minute
	// Background refresh retries start at minBackoff and double up to maxBackoff, never
	// past the current token's expiry.
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
)

// ErrClosed is returned by [Cache.Token] after [Cache.Close].
var ErrClosed = errors.New("tokens: cache is closed")

// A Cache keeps a valid token from a [Provider] ready. Concurrent callers share one fetch;
// a background refresher replaces the token RefreshMargin before its exp claim, so callers
// wait only when there is no valid token at all.
type Cache struct {
	p      Provider
	log    *slog.Logger
	now    func() time.Time
	after  func(time.Duration) <-chan time.Time
	margin time.Duration

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{} // capacity 1: the current token changed

	mu           sync.Mutex
	cur          Token
	lifetime     time.Duration // of cur: exp - iat
	flight       *flight
	warnedMargin bool
	closed       bool
}

// flight is one fetch that any number of callers wait for.
type flight struct {
	done chan struct{}
	tok  Token
	err  error
}

// New resolves opts into a [Provider] (see [NewProvider]) and returns a [Cache] whose
// refresher is running and whose first fetch has started in the background.
func New(ctx context.Context, opts Options) (*Cache, error) {
	p, err := NewProvider(ctx, opts)
	if err != nil {
		return nil, err
	}
	c := NewCache(p, opts)
	c.mu.Lock()
	c.startFlightLocked("warm-up")
	c.mu.Unlock()
	return c, nil
}

// NewCache wraps p in a [Cache] and starts its background refresher. Only RefreshMargin,
// Logger and the clock hooks of opts are used. Call [Cache.Close] when done.
func NewCache(p Provider, opts Options) *Cache {
	e := resolveOptions(opts)
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cache{
		p:      p,
		log:    e.Logger,
		now:    e.now,
		after:  e.after,
		margin: max(e.RefreshMargin, 0),
		ctx:    ctx,
		cancel: cancel,
		kick:   make(chan struct{}, 1),
	}
	c.wg.Add(1)
	go c.refresher()
	return c
}

// Describe returns the provider's [Description].
func (c *Cache) Describe() Description { return c.p.Describe() }

// Token returns the cached token while it is valid (the background refresher replaces it
// ahead of time). Without a valid token it waits for one shared fetch, or for ctx.
func (c *Cache) Token(ctx context.Context) (Token, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return Token{}, ErrClosed
	}
	if c.validLocked() {
		t := c.cur
		c.mu.Unlock()
		return t, nil
	}
	f := c.startFlightLocked("no valid token")
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return Token{}, ctx.Err()
	}
}

// Rejected tells the cache that the server refused t. A new fetch starts only if t is still
// the current token, so many concurrent rejections of one token cause one fetch.
func (c *Cache) Rejected(t Token) {
	c.rejected(func(cur Token) bool { return cur.same(t) })
}

func (c *Cache) rejected(isCurrent func(Token) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || !isCurrent(c.cur) {
		return
	}
	c.cur = Token{}
	c.log.Info("the server rejected the current ID token; fetching a new one")
	c.startFlightLocked("rejected")
}

// Close stops the refresher and waits for it and any fetch in progress; no goroutine is
// left behind. Token then returns [ErrClosed].
func (c *Cache) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
}

// RawSource is the string-typed view of a [Cache] that the proxy module consumes.
type RawSource interface {
	Token(ctx context.Context) (string, error)
	Rejected(token string)
}

// Raw adapts the cache to plain strings for the proxy module.
func (c *Cache) Raw() RawSource { return rawSource{c} }

type rawSource struct{ c *Cache }

func (r rawSource) Token(ctx context.Context) (string, error) {
	t, err := r.c.Token(ctx)
	if err != nil {
		return "", err
	}
	return t.Reveal(), nil
}

func (r rawSource) Rejected(token string) {
	r.c.rejected(func(cur Token) bool { return !cur.IsZero() && token != "" && cur.Reveal() == token })
}

func (c *Cache) validLocked() bool {
	return !c.cur.IsZero() && c.now().Before(c.cur.Expiry())
}

// startFlightLocked joins the fetch in progress or starts one. c.mu must be held and the
// cache open.
func (c *Cache) startFlightLocked(reason string) *flight {
	if c.flight != nil {
		return c.flight
	}
	f := &flight{done: make(chan struct{})}
	if c.closed {
		f.err = ErrClosed
		close(f.done)
		return f
	}
	c.flight = f
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(c.ctx, fetchTimeout)
		defer cancel()
		c.log.Debug("fetching ID token", "reason", reason)
		tok, err := c.p.Fetch(ctx)
		if err == nil && !tok.Expiry().After(c.now()) {
			// Storing it would make every request fail and the refresher spin.
			err = fmt.Errorf("the token source returned an ID token that expired at %s, which is not after this machine's time %s: check the system clock",
				tok.Expiry().UTC().Format(time.RFC3339), c.now().UTC().Format(time.RFC3339))
			tok = Token{}
		}
		c.mu.Lock()
		c.flight = nil
		f.tok, f.err = tok, err
		if err == nil {
			c.storeLocked(tok)
		}
		c.mu.Unlock()
		close(f.done)
		if err != nil {
			c.log.Debug("fetching ID token failed", "reason", reason, "error", err)
		} else {
			cl := tok.Claims()
			c.log.Debug("fetched ID token", "audience", cl.Audience, "email", cl.Email,
				"expires_at", cl.Expiry.UTC().Format(time.RFC3339), "expires_in", cl.Expiry.Sub(c.now()).Round(time.Second).String())
		}
	}()
	return f
}

// storeLocked makes tok current and wakes the refresher.
func (c *Cache) storeLocked(tok Token) {
	now := c.now()
	c.cur = tok
	cl := tok.Claims()
	c.lifetime = cl.Expiry.Sub(cl.IssuedAt)
	if cl.IssuedAt.IsZero() || c.lifetime <= 0 {
		c.lifetime = cl.Expiry.Sub(now)
	}
	if c.margin >= c.lifetime && c.lifetime > 0 && !c.warnedMargin {
		c.warnedMargin = true
		c.log.Warn("the refresh margin is not shorter than the token lifetime; refreshing at half the lifetime instead",
			"refresh_margin", c.margin.String(), "token_lifetime", c.lifetime.String())
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// refreshAt is when the refresher replaces the current token: margin before exp, or half way
// through its life when the margin is not shorter than the lifetime.
func (c *Cache) refreshAtLocked() time.Time {
	exp := c.cur.Expiry()
	if c.margin >= c.lifetime {
		return exp.Add(-c.lifetime / 2)
	}
	return exp.Add(-c.margin)
}

// refresher sleeps until the current token's refresh time, then replaces it, retrying with
// backoff while the current token is still valid.
func (c *Cache) refresher() {
	defer c.wg.Done()
	for {
		c.mu.Lock()
		// A pending kick is stale: we are about to read the current state anyway (kicks are
		// sent under c.mu, so any later change kicks again).
		select {
		case <-c.kick:
		default:
		}
		cur := c.cur
		var timer <-chan time.Time
		// Only a valid token is refreshed ahead of time. Once it has expired (its refresh
		// failed until then), callers fetch on demand and a new token kicks the loop;
		// re-arming a zero timer here would retry in a tight loop.
		if c.validLocked() {
			timer = c.after(max(c.refreshAtLocked().Sub(c.now()), 0))
		}
		c.mu.Unlock()
		select {
		case <-c.ctx.Done():
			return
		case <-c.kick:
			continue
		case <-timer:
		}
		c.refresh(cur)
	}
}

// refresh replaces old, retrying with backoff while old is current and valid: after a
// failure, and after a success that returned a token already due for refresh (gcloud hands
// back its cached token until shortly before expiry; asking again at once would spin).
func (c *Cache) refresh(old Token) {
	backoff := minBackoff
	for attempt := 1; ; attempt++ {
		c.mu.Lock()
		if c.closed || !c.cur.same(old) {
			c.mu.Unlock()
			return
		}
		f := c.startFlightLocked("refresh ahead of expiry")
		c.mu.Unlock()
		select {
		case <-f.done:
		case <-c.ctx.Done():
			return
		}
		if f.err == nil {
			// Our own success already queued a kick; drop it so the loop does not spin
			// once more for the same token.
			select {
			case <-c.kick:
			default:
			}
		}
		c.mu.Lock()
		if f.err == nil {
			due := !c.refreshAtLocked().After(c.now())
			if !due || !c.cur.same(f.tok) {
				c.mu.Unlock()
				return
			}
			old = c.cur
		}
		stillValid := c.cur.same(old) && c.validLocked()
		left := old.Expiry().Sub(c.now())
		c.mu.Unlock()
		if !stillValid {
			if f.err != nil && c.ctx.Err() == nil {
				c.log.Warn("background ID token refresh failed; the next request will try again", "error", f.err, "attempt", attempt)
			}
			return
		}
		wait := min(backoff, left)
		if f.err != nil {
			c.log.Warn("background ID token refresh failed; serving the current token meanwhile",
				"error", f.err, "attempt", attempt, "retry_in", wait.String(), "current_expires_in", left.Round(time.Second).String())
		} else {
			c.log.Debug("the token source returned a token already due for refresh; asking again later",
				"retry_in", wait.String(), "current_expires_in", left.Round(time.Second).String())
		}
		select {
		case <-c.ctx.Done():
			return
		case <-c.kick:
			// Someone else replaced the token (a caller's fetch, a rejection): done here.
			return
		case <-c.after(wait):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}
