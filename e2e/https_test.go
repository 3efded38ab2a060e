package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakecloudrun"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/faults"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestHTTPS: over TLS (HTTP/2, as Cloud Run's front end speaks), calls, progress, sampling,
// an abruptly reset stream (RST_STREAM), session expiry and 8 MiB results all work, and the
// audience is the https origin.
func TestHTTPS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{crun: fakecloudrun.Options{TLS: true}})
	if !strings.HasPrefix(e.crun.URL(), "https://") {
		t.Fatalf("fake URL %s is not https", e.crun.URL())
	}
	p := e.startProxy(t, proxyOpts{})
	res, err := p.callTool(t, "whoami", map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.StructuredContent.(map[string]any)["aud"]; got != e.crun.Origin() {
		t.Errorf("aud = %v, want %s", got, e.crun.Origin())
	}
	if got := p.mustText(t, "sample", map[string]any{"prompt": "tls"}); got != "sampled (e2e-model): TLS" {
		t.Errorf("sample = %q", got)
	}
	e.crun.Faults().CutStreams(faults.Cut{Method: "POST", AfterEvents: 1, Abrupt: true})
	params := &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"steps": 3, "interval_ms": 50}}
	params.SetProgressToken("h2")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := p.cs.CallTool(ctx, params); err != nil {
		t.Fatalf("slow across a reset stream: %v\nstderr:\n%s", err, tail(p.stderr.String()))
	}
	if diff := cmp.Diff([]string{"step 1 of 3", "step 2 of 3", "step 3 of 3"}, p.ev.waitProgress(3)); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	if st := e.crun.Stats(); st.StreamsCut != 1 || st.StreamsResumed < 1 {
		t.Errorf("cut=%d resumed=%d, want 1 and >= 1", st.StreamsCut, st.StreamsResumed)
	}
	for _, r := range e.crun.Stats().Requests {
		if r.Proto != "HTTP/2.0" {
			t.Errorf("%s request over %s, want HTTP/2.0 (Cloud Run's front end speaks it)", r.Method, r.Proto)
			break
		}
	}
	e.crun.ExpireSessions()
	if got := p.mustText(t, "large", map[string]any{"bytes": 8 << 20}); len(got) != 8<<20 {
		t.Errorf("large after expiry: %d bytes", len(got))
	}
}
