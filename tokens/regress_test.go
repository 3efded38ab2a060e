//go:build unix

// Regression tests for bugs found in review; each failed before its fix.
package tokens

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// skewProvider models a machine whose clock is ahead of Google's by more than a token's
// lifetime (e.g. a dual-boot RTC in local time): every token it gets is already past exp.
type skewProvider struct {
	n   atomic.Int32
	tok string
}

func (p *skewProvider) Fetch(ctx context.Context) (Token, error) {
	p.n.Add(1)
	return ParseToken(p.tok)
}
func (p *skewProvider) Describe() Description { return Description{Source: "fake"} }

func TestAnExpiredTokenIsNotStoredOrRefetchedInALoop(t *testing.T) {
	now := time.Now()
	p := &skewProvider{tok: mintJWT(map[string]any{"aud": testAudience, "iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})}
	c := NewCache(p, Options{RefreshMargin: time.Minute})
	defer c.Close()
	tok, err := c.Token(context.Background())
	if err == nil && !tok.Expiry().After(time.Now()) {
		t.Errorf("Token returned an already-expired token with no error")
	}
	time.Sleep(300 * time.Millisecond)
	if n := p.n.Load(); n > 5 {
		t.Errorf("background refresher hot-loops: %d fetches in 300ms with no backoff", n)
	}
}

func TestGcloudImpersonationFromItsEnvironmentGetsTheAudience(t *testing.T) {
	te := newTestEnv(t)
	g := te.installGcloud(testUserEmail)
	g.setToken(testAudience, testTargetEmail)
	// gcloud honours this (and auth/impersonate_service_account in its config): it impersonates,
	// and without --audiences mints for its own client id.
	te.set("CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT", testTargetEmail)
	opts := te.options()
	opts.Source = SourceGcloud
	p, err := NewProvider(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	args := strings.Join(g.args(), "\n")
	if !strings.Contains(args, "--audiences=") {
		t.Errorf("gcloud impersonates (CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT) but --audiences was not passed; args:\n%s", args)
	}
}

// failAfterFirst hands out one short-lived token, then fails fast (offline laptop, revoked
// login, deleted key).
type failAfterFirst struct {
	n   atomic.Int32
	tok string
}

func (p *failAfterFirst) Fetch(ctx context.Context) (Token, error) {
	if p.n.Add(1) == 1 {
		return ParseToken(p.tok)
	}
	return Token{}, context.DeadlineExceeded
}
func (p *failAfterFirst) Describe() Description { return Description{Source: "fake"} }

func TestRefresherDoesNotSpinOnceTheTokenExpired(t *testing.T) {
	now := time.Now()
	p := &failAfterFirst{tok: mintJWT(map[string]any{"aud": testAudience, "iat": now.Unix(), "exp": now.Add(1500 * time.Millisecond).Unix()})}
	logs := &syncBuffer{}
	c := NewCache(p, Options{RefreshMargin: 100 * time.Millisecond, Logger: slogTo(logs)})
	defer c.Close()
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // past exp; nobody calls Token
	before := p.n.Load()
	time.Sleep(300 * time.Millisecond)
	if n := p.n.Load() - before; n > 5 {
		t.Errorf("after expiry, with fetches failing, the refresher retries with no backoff: %d fetches in 300ms; %d warn lines logged", n, strings.Count(logs.String(), "level=WARN"))
	}
}

func slogTo(w *syncBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// gcloud is a shell wrapper that runs Python as a child; a hung Python must not outlive the
// timeout.
func TestGcloudTimeoutKillsItsChildren(t *testing.T) {
	te := newTestEnv(t)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	script := "#!/bin/sh\ncase \"$1 $2\" in\n\"config get-value\") echo user@example.com ;;\n*) /bin/sh -c 'echo $$ > " + pidFile + "; exec /bin/sleep 30' ;;\nesac\n"
	te.writeFile(filepath.Join(te.bin, "gcloud"), []byte(script))
	if err := os.Chmod(filepath.Join(te.bin, "gcloud"), 0o755); err != nil {
		t.Fatal(err)
	}
	opts := te.options()
	opts.Source = SourceGcloud
	opts.gcloudTimeout = 500 * time.Millisecond
	p, err := NewProvider(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Fetch(context.Background())
	if err == nil || !strings.Contains(err.Error(), "did not finish within") {
		t.Fatalf("fetch error %v, want the timeout", err)
	}
	// The child wrote its pid before the wrapper was killed; without it the test proves nothing.
	b, err := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		t.Fatalf("gcloud's child never wrote its pid (%q, %v): the test did not start what it must kill", b, err)
	}
	// The kill is sent to the process group at the timeout; give the kernel a moment to
	// deliver it, polling with a deadline.
	deadline := time.Now().Add(3 * time.Second)
	for {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		gone := syscall.Kill(pid, 0) != nil || err != nil || strings.Contains(string(st), ") Z ")
		if gone {
			return
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("gcloud's child (pid %d) is still running 3s after the %s timeout: only the wrapper was killed", pid, opts.gcloudTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
