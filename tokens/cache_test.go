package tokens

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeProvider mints tokens with exp = clock + lifetime; gate, when set, runs before each
// fetch (n counts from 1) and may block or fail it.
type fakeProvider struct {
	te       *testEnv
	lifetime time.Duration
	gate     func(ctx context.Context, n int) error
	n        atomic.Int32
	started  chan int
}

func newFakeProvider(te *testEnv, lifetime time.Duration) *fakeProvider {
	return &fakeProvider{te: te, lifetime: lifetime, started: make(chan int, 1000)}
}

func (p *fakeProvider) Fetch(ctx context.Context) (Token, error) {
	n := int(p.n.Add(1))
	p.started <- n
	if p.gate != nil {
		if err := p.gate(ctx, n); err != nil {
			return Token{}, err
		}
	}
	return ParseToken(p.te.fg.idToken(testAudience, testSAEmail, p.lifetime, nil))
}

func (p *fakeProvider) Describe() Description { return Description{Source: "fake"} }

func (p *fakeProvider) waitStarted(t *testing.T, n int) {
	t.Helper()
	for {
		select {
		case got := <-p.started:
			if got >= n {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("fetch %d never started", n)
		}
	}
}

func mustToken(t *testing.T, c *Cache) Token {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tok, err := c.Token(ctx)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	return tok
}

func wantAfter(t *testing.T, clk *fakeClock, want time.Duration) {
	t.Helper()
	if got := clk.nextAfter(t); got != want {
		t.Fatalf("refresher timer = %v, want %v", got, want)
	}
}

func TestCacheRefreshesBeforeExpiryWithoutCallersWaiting(t *testing.T) {
	te := newTestEnv(t)
	p := newFakeProvider(te, time.Hour)
	release := make(chan struct{})
	p.gate = func(ctx context.Context, n int) error {
		if n == 2 {
			<-release
		}
		return nil
	}
	c := NewCache(p, te.options()) // margin 60s
	defer c.Close()

	t1 := mustToken(t, c)
	wantAfter(t, te.clk, time.Hour-60*time.Second)
	te.clk.Advance(time.Hour - 60*time.Second)
	p.waitStarted(t, 2)
	if now := te.clk.Now(); now.After(t1.Expiry().Add(-60 * time.Second)) {
		t.Errorf("refresh started at %v, after exp - margin %v", now, t1.Expiry().Add(-60*time.Second))
	}
	// The refresh is blocked; callers still get the current token at once.
	for range 5 {
		if got := mustToken(t, c); !got.same(t1) {
			t.Fatal("a caller did not get the cached token during the refresh")
		}
	}
	close(release)
	waitFor(t, "the refreshed token", func() bool { return !mustToken(t, c).same(t1) })
	if n := p.n.Load(); n != 2 {
		t.Errorf("%d fetches, want 2 (one initial, one background refresh)", n)
	}
	wantAfter(t, te.clk, time.Hour-60*time.Second)
}

func TestCacheRefreshesShortLivedMetadataTokenOnTime(t *testing.T) {
	te := newTestEnv(t)
	te.useMetadata()
	te.fg.metadataLifetime = 2 * time.Minute // the library would claim an hour
	o := te.options()
	o.Source = SourceGoogleAuth
	c, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t1 := mustToken(t, c)
	if got := t1.Expiry().Sub(te.clk.Now()); got != 2*time.Minute {
		t.Fatalf("token expires in %v, want 2m from the JWT exp", got)
	}
	wantAfter(t, te.clk, time.Minute) // exp - 60s margin
	te.clk.Advance(time.Minute)
	waitFor(t, "the metadata server to be asked again", func() bool { return te.fg.count("metadata:identity") == 2 })
	waitFor(t, "the refreshed token", func() bool { return !mustToken(t, c).same(t1) })
	if t2 := mustToken(t, c); !t2.Expiry().After(t1.Expiry()) {
		t.Errorf("refreshed token expires %v, not after %v", t2.Expiry(), t1.Expiry())
	}
	if n := te.fg.count("metadata:identity"); n != 2 {
		t.Errorf("metadata identity asked %d times, want 2", n)
	}
	wantAfter(t, te.clk, time.Minute)
}

func TestCacheMarginNotShorterThanLifetime(t *testing.T) {
	te := newTestEnv(t)
	p := newFakeProvider(te, 100*time.Second)
	o := te.options()
	o.RefreshMargin = 5 * time.Minute
	c := NewCache(p, o)
	defer c.Close()
	t1 := mustToken(t, c)
	wantAfter(t, te.clk, 50*time.Second)
	te.clk.Advance(50 * time.Second)
	waitFor(t, "the refreshed token", func() bool { return !mustToken(t, c).same(t1) })
	wantAfter(t, te.clk, 50*time.Second)
	if n := strings.Count(te.logs.String(), "refreshing at half the lifetime"); n != 1 {
		t.Errorf("margin warning logged %d times, want once:\n%s", n, te.logs.String())
	}
	if !strings.Contains(te.logs.String(), "level=WARN") {
		t.Errorf("margin warning not at warn level:\n%s", te.logs.String())
	}
}

func TestCacheZeroMarginRefreshesAtExpiry(t *testing.T) {
	te := newTestEnv(t)
	p := newFakeProvider(te, 10*time.Minute)
	o := te.options()
	o.RefreshMargin = 0
	c := NewCache(p, o)
	defer c.Close()
	mustToken(t, c)
	wantAfter(t, te.clk, 10*time.Minute)
}

func newServiceAccountCache(t *testing.T) (*testEnv, *Cache) {
	t.Helper()
	te := newTestEnv(t)
	te.useADC(te.serviceAccountKey())
	o := te.options()
	o.Source = SourceGoogleAuth
	p, err := NewProvider(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	c := NewCache(p, o)
	t.Cleanup(c.Close)
	return te, c
}

func TestCacheConcurrentCallersShareOneFetch(t *testing.T) {
	te, c := newServiceAccountCache(t)
	release := te.fg.blockNext("token:jwt-bearer")
	var entered atomic.Int32
	var wg sync.WaitGroup
	toks := make([]Token, 50)
	errs := make([]error, 50)
	for i := range 50 {
		wg.Go(func() {
			entered.Add(1)
			toks[i], errs[i] = c.Token(context.Background())
		})
	}
	waitFor(t, "50 callers", func() bool { return entered.Load() == 50 })
	release()
	wg.Wait()
	for i := range 50 {
		if errs[i] != nil || !toks[i].same(toks[0]) {
			t.Fatalf("caller %d: %v, same token %v", i, errs[i], toks[i].same(toks[0]))
		}
	}
	if n := te.fg.count("token:jwt-bearer"); n != 1 {
		t.Errorf("token endpoint asked %d times for 50 concurrent callers, want 1", n)
	}
}

func TestCacheConcurrentRejectionsCauseOneFetch(t *testing.T) {
	te, c := newServiceAccountCache(t)
	t1 := mustToken(t, c)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if i%2 == 0 {
				c.Rejected(t1)
			} else {
				c.Raw().Rejected(t1.Reveal())
			}
			if got := mustToken(t, c); got.same(t1) {
				t.Error("a caller got the rejected token back")
			}
		})
	}
	wg.Wait()
	if n := te.fg.count("token:jwt-bearer"); n != 2 {
		t.Errorf("token endpoint asked %d times after 50 rejections of one token, want 2", n)
	}
	// A late rejection of the old token changes nothing.
	c.Rejected(t1)
	c.Raw().Rejected(t1.Reveal())
	c.Rejected(Token{})
	raw, err := c.Raw().Token(context.Background())
	if err != nil || raw == t1.Reveal() {
		t.Fatalf("Raw().Token: %v, rejected token returned: %v", err, raw == t1.Reveal())
	}
	if n := te.fg.count("token:jwt-bearer"); n != 2 {
		t.Errorf("stale rejection caused a fetch: %d fetches, want 2", n)
	}
}

func TestCacheServesCurrentTokenWhileRefreshFails(t *testing.T) {
	te, c := newServiceAccountCache(t)
	t1 := mustToken(t, c)
	wantAfter(t, te.clk, time.Hour-time.Minute)
	te.fg.failTimes("token:jwt-bearer", 2)

	te.clk.Advance(time.Hour - time.Minute)
	wantAfter(t, te.clk, time.Second) // first failure: retry in 1s
	if n := te.fg.count("token:jwt-bearer"); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	if !mustToken(t, c).same(t1) {
		t.Fatal("current token not served after a failed refresh")
	}
	te.clk.Advance(time.Second)
	wantAfter(t, te.clk, 2*time.Second) // second failure: backoff doubles
	if !mustToken(t, c).same(t1) {
		t.Fatal("current token not served after a second failed refresh")
	}
	te.clk.Advance(2 * time.Second)
	waitFor(t, "the refreshed token", func() bool { return !mustToken(t, c).same(t1) })
	if n := te.fg.count("token:jwt-bearer"); n != 4 {
		t.Errorf("%d fetches, want 4 (initial, two failures, success)", n)
	}
	logs := te.logs.String()
	if n := strings.Count(logs, "background ID token refresh failed; serving the current token meanwhile"); n != 2 {
		t.Errorf("%d refresh-failure warnings, want 2:\n%s", n, logs)
	}
	if !strings.Contains(logs, "google-auth (service_account key") || !strings.Contains(logs, "503") {
		t.Errorf("refresh failures not logged with the source and cause:\n%s", logs)
	}
}

func TestCacheExpiredTokenAndFailingEndpoint(t *testing.T) {
	te, c := newServiceAccountCache(t)
	mustToken(t, c)
	wantAfter(t, te.clk, time.Hour-time.Minute)
	te.fg.failTimes("token:jwt-bearer", 1000)
	te.clk.Advance(2 * time.Hour)
	_, err := c.Token(context.Background())
	if err == nil {
		t.Fatal("Token succeeded with an expired token and a failing endpoint")
	}
	for _, want := range []string{"google-auth (service_account key", "503", "temporarily_unavailable", "check that the key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	te.assertNoSecrets(err.Error(), "error")
}

func TestCacheTokenHonoursContextAndCloseLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	te := newTestEnv(t)
	p := newFakeProvider(te, time.Hour)
	p.gate = func(ctx context.Context, n int) error {
		<-ctx.Done() // a fetch that only ends when the cache closes
		return ctx.Err()
	}
	c := NewCache(p, te.options())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Token(ctx)
		done <- err
	}()
	p.waitStarted(t, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Token after cancel: %v, want context.Canceled", err)
	}
	c.Close()
	if _, err := c.Token(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Token after Close: %v, want ErrClosed", err)
	}
	c.Close() // idempotent
	te.fg.srv.Client().CloseIdleConnections()
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before+2 }) // +httptest server
}

// cachedSourceProvider hands back its first token until told otherwise, as gcloud returns its
// cached token until shortly before expiry.
type cachedSourceProvider struct {
	*fakeProvider
	mu     sync.Mutex
	cached Token
	fresh  bool
}

func (p *cachedSourceProvider) Fetch(ctx context.Context) (Token, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.cached.IsZero() && !p.fresh {
		p.n.Add(1)
		return p.cached, nil
	}
	t, err := p.fakeProvider.Fetch(ctx)
	p.cached = t
	return t, err
}

func TestCacheDoesNotSpinWhenTheSourceReturnsTheSameToken(t *testing.T) {
	te := newTestEnv(t)
	p := &cachedSourceProvider{fakeProvider: newFakeProvider(te, time.Hour)}
	c := NewCache(p, te.options())
	defer c.Close()
	t1 := mustToken(t, c)
	wantAfter(t, te.clk, time.Hour-time.Minute)
	te.clk.Advance(time.Hour - time.Minute)
	wantAfter(t, te.clk, time.Second) // same token back: wait, do not ask again at once
	te.clk.Advance(time.Second)
	wantAfter(t, te.clk, 2*time.Second)
	if n := p.n.Load(); n != 3 {
		t.Errorf("%d fetches, want 3", n)
	}
	p.mu.Lock()
	p.fresh = true
	p.mu.Unlock()
	te.clk.Advance(2 * time.Second)
	waitFor(t, "the refreshed token", func() bool { return !mustToken(t, c).same(t1) })
	wantAfter(t, te.clk, time.Hour-time.Minute)
}
