package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/tokens"
)

// startingAuthorizer is the relay's credentials while the token source starts in the
// background: stdin is read from the first moment, requests wait for the source, and a source
// that cannot start (no credentials, a broken key file, gcloud missing) or whose first token
// cannot be had becomes a [proxy.StartupError] that every request is answered with, in the
// words stderr got once.
type startingAuthorizer struct {
	stderr io.Writer
	done   chan struct{}
	cache  *tokens.Cache
	err    error

	mu     sync.Mutex
	gotOne bool
	told   bool
}

func newStartingAuthorizer(stderr io.Writer) *startingAuthorizer {
	return &startingAuthorizer{stderr: stderr, done: make(chan struct{})}
}

// start ends the wait: with the cache, or with the error that keeps the relay from working.
func (a *startingAuthorizer) start(cache *tokens.Cache, err error) {
	a.cache, a.err = cache, err
	if err != nil {
		a.err = fmt.Errorf("mcp-cloudrun-proxy: %w", err)
		a.report(a.err)
	}
	close(a.done)
}

// ready waits for start and returns the cache, or the startup error.
func (a *startingAuthorizer) ready(ctx context.Context) (*tokens.Cache, error) {
	select {
	case <-a.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if a.err != nil {
		return nil, &proxy.StartupError{Err: a.err}
	}
	return a.cache, nil
}

// firstTokenWait bounds how long a request waits for the very first token: clients give up
// on a server that does not answer initialize within 30 seconds (Claude Code, opencode), and a
// hanging gcloud or metadata server would otherwise make them show "connection closed".
const firstTokenWait = 20 * time.Second

// Authorize sets the token on h. Until one token was had, a failure to get one (or no token
// within firstTokenWait) is a startup error; later ones are passing failures the relay reports
// per request.
func (a *startingAuthorizer) Authorize(ctx context.Context, h http.Header) error {
	parent := ctx
	first := !a.hadToken()
	if first {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, firstTokenWait)
		defer cancel()
	}
	cache, err := a.ready(ctx)
	if err == nil {
		err = cache.Authorizer().Authorize(ctx, h)
	}
	var startup *proxy.StartupError
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case err == nil:
		a.gotOne = true
	case errors.As(err, &startup), !first, parent.Err() != nil:
	case errors.Is(err, context.DeadlineExceeded):
		err = fmt.Errorf("mcp-cloudrun-proxy: token source: no ID token within %v (gcloud or the metadata server may be hanging; check `gcloud auth list`, or run mcp-cloudrun-proxy debug with this entry's flags)", firstTokenWait)
		a.reportLocked(err)
		return &proxy.StartupError{Err: err}
	default:
		err = fmt.Errorf("mcp-cloudrun-proxy: token source: %w", err)
		a.reportLocked(err)
		return &proxy.StartupError{Err: err}
	}
	return err
}

// hadToken reports whether a token was ever set on a request.
func (a *startingAuthorizer) hadToken() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.gotOne
}

// failed reports, without waiting, whether the source could not start or no token was had.
func (a *startingAuthorizer) failed() bool {
	select {
	case <-a.done:
	default:
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err != nil || a.told
}

// Rejected passes a refusal on to the cache.
func (a *startingAuthorizer) Rejected(h http.Header) {
	if cache, err := a.ready(context.Background()); err == nil {
		cache.Authorizer().Rejected(h)
	}
}

func (a *startingAuthorizer) report(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reportLocked(err)
}

// reportLocked writes the startup failure to stderr once, as the line the client also gets.
func (a *startingAuthorizer) reportLocked(err error) {
	if !a.told {
		a.told = true
		fmt.Fprintln(a.stderr, err)
	}
}
