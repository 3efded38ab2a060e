package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakecloudrun"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakegoogle"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/faults"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// authKinds are the credential setups every auth-sensitive test runs under.
var authKinds = fakegoogle.AllKinds

// wantAudience is the aud the proxy's tokens carry under e's credentials.
func (e *env) wantAudience() string {
	if e.setup.Audience != "" {
		return e.setup.Audience
	}
	return e.crun.Origin()
}

// TestToolsUnderEachAuthMode: with every kind of credentials, the proxy relays calls with a
// token the fake Google issued, for the right principal and audience.
func TestToolsUnderEachAuthMode(t *testing.T) {
	t.Parallel()
	kinds := append(slices.Clone(authKinds), fakegoogle.AuthorizedUserWellKnown, fakegoogle.GcloudServiceAccount)
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{kind: kind})
			p := e.startProxy(t, proxyOpts{})
			if got := p.mustText(t, "echo", map[string]any{"text": "héllo\nworld"}); got != "héllo\nworld" {
				t.Errorf("echo = %q", got)
			}
			res, err := p.callTool(t, "whoami", map[string]any{})
			if err != nil {
				t.Fatalf("whoami: %v", err)
			}
			claims, _ := res.StructuredContent.(map[string]any)
			got := map[string]any{"email": claims["email"], "aud": claims["aud"], "iss": claims["iss"]}
			want := map[string]any{"email": e.setup.Principal, "aud": e.wantAudience(), "iss": fakegoogle.Issuer}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("token claims seen by Cloud Run (-want +got):\n%s", diff)
			}
			st := e.crun.Stats()
			for _, a := range st.Authorizations {
				if !strings.HasPrefix(a, "Bearer ") || !e.google.WasIssued(strings.TrimPrefix(a, "Bearer ")) {
					t.Errorf("Cloud Run received an Authorization that the fake Google did not issue")
				}
			}
			if st.Rejected["missing"]+st.Rejected["invalid"]+st.Rejected["audience"] != 0 {
				t.Errorf("gate rejections %v, want none", st.Rejected)
			}
		})
	}
}

// TestCustomAudience: --audience replaces the URL origin as aud.
func TestCustomAudience(t *testing.T) {
	t.Parallel()
	const aud = "https://custom-audience.example.com"
	e := newEnv(t, envOpts{crun: fakecloudrun.Options{Audiences: []string{aud}}})
	p := e.startProxy(t, proxyOpts{args: []string{"--audience", aud}})
	res, err := p.callTool(t, "whoami", map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.StructuredContent.(map[string]any)["aud"]; got != aud {
		t.Errorf("aud = %v, want %s", got, aud)
	}
}

// TestTokenExpiry: tokens live 8 s; over a 20 s run with a call every 250 ms every call
// succeeds, and the proxy refreshes before expiry (Cloud Run never sees an expired token).
func TestTokenExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("20 s run")
	}
	t.Parallel()
	for _, kind := range authKinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{kind: kind, lifetime: 8 * time.Second})
			p := e.startProxy(t, proxyOpts{args: []string{"--refresh-margin", "2"}})
			end := time.Now().Add(20 * time.Second)
			calls, failures := 0, 0
			for time.Now().Before(end) {
				calls++
				want := fmt.Sprintf("call %d", calls)
				res, err := p.callTool(t, "echo", map[string]any{"text": want})
				if err != nil || res.IsError || resultText(t, res) != want {
					failures++
					t.Errorf("call %d at +%v: err=%v", calls, time.Until(end).Round(time.Second), err)
				}
				time.Sleep(250 * time.Millisecond) // pacing the load, not synchronisation
			}
			st := e.crun.Stats()
			if n := len(st.Authorizations); n < 3 {
				t.Errorf("Cloud Run saw %d distinct tokens over 20 s of 8 s tokens, want >= 3", n)
			}
			if st.Rejected["expired"] != 0 {
				t.Errorf("Cloud Run rejected %d expired tokens; the proxy must refresh before exp", st.Rejected["expired"])
			}
			t.Logf("%d calls, %d failures, %d tokens, tokens issued %v", calls, failures, len(st.Authorizations), e.google.TokensIssued())
		})
	}
}

// TestRevokedTokens: after every issued token is revoked, the next call gets 401, and the
// proxy fetches a new token and retries, so the call succeeds.
func TestRevokedTokens(t *testing.T) {
	t.Parallel()
	for _, kind := range authKinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{kind: kind})
			p := e.startProxy(t, proxyOpts{})
			p.mustText(t, "echo", map[string]any{"text": "before"})
			issued := e.google.TotalIssued()
			e.crun.RevokeTokens()
			if got := p.mustText(t, "echo", map[string]any{"text": "after"}); got != "after" {
				t.Errorf("echo after revocation = %q", got)
			}
			st := e.crun.Stats()
			if st.Rejected["revoked"] == 0 {
				t.Errorf("Cloud Run saw no revoked token; the test did not exercise the refresh")
			}
			if e.google.TotalIssued() <= issued {
				t.Errorf("no new token issued after revocation")
			}
		})
	}
}

// TestInjectedAuthFailures: a single 401 or 403 from the front end makes the proxy refresh
// the token and retry once; the call succeeds.
func TestInjectedAuthFailures(t *testing.T) {
	t.Parallel()
	for _, kind := range authKinds {
		for _, status := range []int{401, 403} {
			t.Run(fmt.Sprintf("%s/%d", kind, status), func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOpts{kind: kind})
				p := e.startProxy(t, proxyOpts{})
				issued := e.google.TotalIssued()
				e.crun.Faults().FailNext(faults.Failure{Status: status, RPCMethod: "tools/call"})
				if got := p.mustText(t, "echo", map[string]any{"text": "x"}); got != "x" {
					t.Errorf("echo = %q", got)
				}
				if e.crun.Stats().Injected[status] != 1 {
					t.Errorf("the injected %d was not consumed", status)
				}
				if e.google.TotalIssued() <= issued {
					t.Errorf("no new token was fetched after a %d", status)
				}
			})
		}
	}
}

// TestPermanentDenial: a principal that may not invoke gets a JSON-RPC error (not a hang, not
// a crash) that says what happened; once allowed, the next call works in the same process.
func TestPermanentDenial(t *testing.T) {
	t.Parallel()
	for _, kind := range authKinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{kind: kind})
			p := e.startProxy(t, proxyOpts{})
			e.crun.SetInvokers([]string{"somebody-else@example.com"})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			_, err := p.cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "x"}})
			if err == nil {
				t.Fatal("call by a denied principal succeeded")
			}
			if ctx.Err() != nil {
				t.Fatal("call by a denied principal hung")
			}
			if !strings.Contains(err.Error(), "403") {
				t.Errorf("error %q does not mention the 403", err)
			}
			e.crun.SetInvokers(nil)
			if got := p.mustText(t, "echo", map[string]any{"text": "again"}); got != "again" {
				t.Errorf("echo after re-allowing = %q", got)
			}
		})
	}
}

// TestRevokedUnderConcurrency: after revocation, 12 concurrent calls all succeed, and the
// proxy does not fetch a token per call (one refresh serves them all).
func TestRevokedUnderConcurrency(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	p := e.startProxy(t, proxyOpts{})
	p.mustText(t, "echo", map[string]any{"text": "warm"})
	e.crun.RevokeTokens()
	before := e.google.TotalIssued()
	const n = 12
	errs := make(chan error, n)
	for i := range n {
		go func() {
			res, err := p.callTool(t, "echo", map[string]any{"text": fmt.Sprint(i), "delay_ms": 20})
			if err == nil && (res.IsError || len(res.Content) == 0) {
				err = fmt.Errorf("tool error")
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("call after revocation: %v", err)
		}
	}
	if fetched := e.google.TotalIssued() - before; fetched > 3 {
		t.Errorf("%d tokens fetched for %d concurrent calls after one revocation, want <= 3 (single-flight refresh)", fetched, n)
	}
}
