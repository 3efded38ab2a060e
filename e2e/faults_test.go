package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakecloudrun"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/faults"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestRetryableStatuses: 429 and 503 from the front end are retried, honouring Retry-After,
// until the call succeeds.
func TestRetryableStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status     int
		count      int
		retryAfter time.Duration
		rpcMethod  string
	}{
		{503, 2, time.Second, "tools/call"},
		{429, 1, time.Second, "tools/call"},
		{503, 2, 0, "tools/call"},
		{503, 1, time.Second, "initialize"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d_x%d_retry-after-%v_%s", tc.status, tc.count, tc.retryAfter, tc.rpcMethod), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{})
			f := faults.Failure{Count: tc.count, Status: tc.status, RetryAfter: tc.retryAfter, RPCMethod: tc.rpcMethod}
			start := time.Now()
			if tc.rpcMethod == "initialize" {
				e.crun.Faults().FailNext(f) // a cold start: the very first request fails
			}
			p := e.startProxy(t, proxyOpts{})
			if tc.rpcMethod != "initialize" {
				start = time.Now()
				e.crun.Faults().FailNext(f)
			}
			if got := p.mustText(t, "echo", map[string]any{"text": "ok"}); got != "ok" {
				t.Errorf("echo = %q", got)
			}
			took := time.Since(start)
			if got := e.crun.Stats().Injected[tc.status]; got != tc.count {
				t.Errorf("%d of %d injected %ds were consumed", got, tc.count, tc.status)
			}
			if min := time.Duration(tc.count) * tc.retryAfter; took < min-50*time.Millisecond {
				t.Errorf("succeeded after %v, want >= %v: Retry-After not honoured", took.Round(time.Millisecond), min)
			}
		})
	}
}

// TestPersistentUnavailability: a service that keeps answering 503 yields a JSON-RPC error
// for the call within a bounded time, and the proxy keeps serving afterwards.
func TestPersistentUnavailability(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	p := e.startProxy(t, proxyOpts{})
	e.crun.Faults().FailNext(faults.Failure{Count: 1000, Status: 503, RPCMethod: "tools/call"})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start := time.Now()
	_, err := p.cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "x"}})
	if err == nil {
		t.Fatal("call succeeded against a service answering 503")
	}
	if ctx.Err() != nil {
		t.Fatalf("no answer within 90 s: the retry budget is unbounded")
	}
	if !strings.Contains(err.Error(), "503") {
		t.Errorf("error %q does not mention the 503", err)
	}
	t.Logf("gave up after %v and %d attempts", time.Since(start).Round(time.Millisecond), e.crun.Stats().Injected[503])
	e.crun.Faults().Reset()
	if got := p.mustText(t, "echo", map[string]any{"text": "back"}); got != "back" {
		t.Errorf("echo after recovery = %q", got)
	}
}

// TestServerErrorNotReplayed: a 500 may mean the call ran, so the proxy must answer with an
// error rather than POST the same call again.
func TestServerErrorNotReplayed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	p := e.startProxy(t, proxyOpts{})
	e.crun.Faults().FailNext(faults.Failure{Status: 500, RPCMethod: "tools/call"})
	if _, err := p.callTool(t, "echo", map[string]any{"text": "x"}); err == nil {
		t.Error("call answered by a 500 succeeded")
	}
	if got := e.crun.Stats().ByRPCMethod["tools/call"]; got != 1 {
		t.Errorf("tools/call was POSTed %d times, want 1 (no blind replay after a 500)", got)
	}
}

// TestSessionExpiryRecovered: when Cloud Run forgets the session (404 on a request carrying
// Mcp-Session-Id) the proxy starts a new session transparently and the call succeeds, and
// server-to-client features keep working on the new session.
func TestSessionExpiryRecovered(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"expire-sessions", "injected-404", "json-after-expiry"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{})
			p := e.startProxy(t, proxyOpts{})
			p.mustText(t, "echo", map[string]any{"text": "first"})
			switch how {
			case "expire-sessions":
				e.crun.ExpireSessions()
			case "injected-404":
				e.crun.Faults().FailNext(faults.Failure{Status: 404, RPCMethod: "tools/call"})
			case "json-after-expiry":
				e.crun.SetJSONResponse(true) // the redeployed service answers with JSON
				e.crun.ExpireSessions()
			}
			if got := p.mustText(t, "echo", map[string]any{"text": "second"}); got != "second" {
				t.Errorf("echo after expiry = %q", got)
			}
			if got := p.mustText(t, "sample", map[string]any{"prompt": "again"}); got != "sampled (e2e-model): AGAIN" {
				t.Errorf("sample after expiry = %q", got)
			}
			if st := e.crun.Stats(); st.SessionsCreated != 2 {
				t.Errorf("sessions created = %d, want 2 (one re-initialize)", st.SessionsCreated)
			}
		})
	}
}

// TestSSECutResumed: a response stream cut after its first event (abruptly, or cleanly as
// Cloud Run's timeout does) is resumed with Last-Event-ID: the result arrives, every
// progress notification exactly once, and the call is not POSTed again.
func TestSSECutResumed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		cut  faults.Cut
	}{
		{"abrupt-after-1-event", faults.Cut{Method: "POST", AfterEvents: 1, Abrupt: true}},
		{"clean-after-1-event", faults.Cut{Method: "POST", AfterEvents: 1}},
		{"abrupt-after-250ms", faults.Cut{Method: "POST", After: 250 * time.Millisecond, Abrupt: true}},
		{"clean-after-250ms-with-retry", faults.Cut{Method: "POST", After: 250 * time.Millisecond, Retry: 100 * time.Millisecond}},
		{"post-then-resumed-stream", faults.Cut{Method: "POST", AfterEvents: 1, Abrupt: true}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{})
			p := e.startProxy(t, proxyOpts{})
			e.crun.Faults().CutStreams(tc.cut)
			wantCuts := 1
			if tc.desc == "post-then-resumed-stream" {
				// The resumed stream is cut too, after its next event.
				e.crun.Faults().CutStreams(faults.Cut{Method: "GET", Resumed: true, AfterEvents: 1})
				wantCuts = 2
			}
			params := &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"steps": 5, "interval_ms": 100}}
			params.SetProgressToken("cut")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			res, err := p.cs.CallTool(ctx, params)
			if err != nil {
				t.Fatalf("call across a cut stream: %v\nstderr:\n%s", err, tail(p.stderr.String()))
			}
			if got := resultText(t, res); got != "done after 5 steps" {
				t.Errorf("result %q", got)
			}
			want := []string{"step 1 of 5", "step 2 of 5", "step 3 of 5", "step 4 of 5", "step 5 of 5"}
			if diff := cmp.Diff(want, p.ev.waitProgress(5)); diff != "" {
				t.Errorf("progress across the cut (-want +got):\n%s", diff)
			}
			st := e.crun.Stats()
			if st.StreamsCut != wantCuts {
				t.Errorf("streams cut = %d, want %d (the fault did not fire)", st.StreamsCut, wantCuts)
			}
			if st.StreamsResumed < wantCuts {
				t.Errorf("streams resumed with Last-Event-ID = %d, want >= %d", st.StreamsResumed, wantCuts)
			}
			if got := st.ByRPCMethod["tools/call"]; got != 1 {
				t.Errorf("tools/call POSTed %d times, want 1 (resume, don't replay)", got)
			}
		})
	}
}

// TestGETStreamCutReopened: when the standalone GET stream is cut, the proxy reopens it and
// later server-initiated notifications still arrive.
func TestGETStreamCutReopened(t *testing.T) {
	t.Parallel()
	for _, abrupt := range []bool{true, false} {
		t.Run(fmt.Sprintf("abrupt=%v", abrupt), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{})
			e.crun.Faults().CutStreams(faults.Cut{Method: "GET", After: 100 * time.Millisecond, Abrupt: abrupt})
			p := e.startProxy(t, proxyOpts{})
			st, err := e.crun.WaitFor(ctxTimeout(t, 20*time.Second), func(st fakecloudrun.Stats) bool {
				return st.StreamsCut == 1 && st.StandaloneStreams+st.StreamsResumed >= 2
			})
			if err != nil {
				t.Fatalf("GET stream not reopened after the cut: cut=%d standalone=%d resumed=%d", st.StreamsCut, st.StandaloneStreams, st.StreamsResumed)
			}
			p.mustText(t, "change_tools", map[string]any{"delay_ms": 20})
			select {
			case <-p.ev.toolsCh:
			case <-time.After(10 * time.Second):
				t.Fatal("no tools/list_changed after the GET stream was reopened")
			}
		})
	}
}

// TestConnectionRefusedRetried: while the service refuses connections (cold start, network
// blip) nothing was sent, so the proxy retries and the call succeeds once it is back.
func TestConnectionRefusedRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	p := e.startProxy(t, proxyOpts{})
	p.mustText(t, "echo", map[string]any{"text": "before"})
	if err := e.crun.Refuse(700 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if got := p.mustText(t, "echo", map[string]any{"text": "after"}); got != "after" {
		t.Errorf("echo = %q", got)
	}
	t.Logf("answered %v after the service went away for 700ms", time.Since(start).Round(time.Millisecond))
	if got := e.crun.Stats().ByRPCMethod["tools/call"]; got != 2 {
		t.Errorf("tools/call reached Cloud Run %d times, want 2", got)
	}
}
