package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakecloudrun"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestToolsListAndStructuredContent: tools/list and a structured result arrive intact.
func TestToolsListAndStructuredContent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	p := e.startProxy(t, proxyOpts{})
	ctx := context.Background()
	lt, err := p.cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range lt.Tools {
		names = append(names, tool.Name)
	}
	want := []string{"add", "bump", "change_tools", "digest", "echo", "elicit", "forecast", "greet", "large", "sample", "slow", "whoami"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("tools (-want +got):\n%s", diff)
	}
	res, err := p.callTool(t, "add", map[string]any{"a": 40, "b": 2})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"sum": float64(42)}, res.StructuredContent); diff != "" {
		t.Errorf("structured content (-want +got):\n%s", diff)
	}
}

// TestDefaultProtocolVersion: a client that starts with the 2026 server/discover probe (the
// go-sdk default) still gets a working session through the proxy.
func TestDefaultProtocolVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	p := e.startProxy(t, proxyOpts{protocolVersion: "default"})
	if got := p.mustText(t, "echo", map[string]any{"text": "hi"}); got != "hi" {
		t.Errorf("echo = %q", got)
	}
}

// TestConcurrentCallsOutOfOrder: 16 calls in flight at once, the first-sent answered last;
// each gets its own answer, and Cloud Run sees them concurrently.
func TestConcurrentCallsOutOfOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	p := e.startProxy(t, proxyOpts{})
	const n = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	var order []int
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := fmt.Sprintf("call-%d", i)
			res, err := p.callTool(t, "echo", map[string]any{"text": want, "delay_ms": (n - i) * 60})
			if err != nil {
				t.Errorf("call %d: %v", i, err)
				return
			}
			if got := resultText(t, res); got != want {
				t.Errorf("call %d got %q", i, got)
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if st := e.crun.Stats(); st.MaxInFlight < n/2 {
		t.Errorf("Cloud Run saw at most %d POSTs at once, want >= %d: the proxy serialises calls", st.MaxInFlight, n/2)
	}
	if len(order) == n && order[0] < n/2 {
		t.Errorf("completion order %v: the slowest call finished first, answers were not relayed as they came", order)
	}
}

// TestLargePayloads: an 8 MiB result and an 8 MiB argument cross the proxy intact.
func TestLargePayloads(t *testing.T) {
	t.Parallel()
	const size = 8 << 20
	e := newEnv(t, envOpts{})
	p := e.startProxy(t, proxyOpts{})
	got := p.mustText(t, "large", map[string]any{"bytes": size})
	if len(got) != size || got != fakecloudrun.LargeText(size) {
		t.Errorf("large result: %d bytes, want %d identical bytes", len(got), size)
	}
	data := strings.Repeat("ü", size/2) // 8 MiB of multi-byte UTF-8
	res, err := p.callTool(t, "digest", map[string]any{"data": data})
	if err != nil {
		t.Fatalf("digest: %v", err)
	}
	sum := sha256.Sum256([]byte(data))
	want := map[string]any{"length": float64(len(data)), "sha256": hex.EncodeToString(sum[:])}
	if diff := cmp.Diff(want, res.StructuredContent); diff != "" {
		t.Errorf("digest of the 8 MiB argument (-want +got):\n%s", diff)
	}
}

// TestProgressBeforeResult: progress notifications are streamed to the client as they
// happen, before the result, in order.
func TestProgressBeforeResult(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	p := e.startProxy(t, proxyOpts{})
	params := &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"steps": 4, "interval_ms": 150}}
	params.SetProgressToken("tok-1")
	res, err := p.cs.CallTool(context.Background(), params)
	done := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if got := resultText(t, res); got != "done after 4 steps" {
		t.Errorf("result %q", got)
	}
	want := []string{"step 1 of 4", "step 2 of 4", "step 3 of 4", "step 4 of 4"}
	if diff := cmp.Diff(want, p.ev.waitProgress(4)); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	p.ev.mu.Lock()
	first := p.ev.progress[0].at
	p.ev.mu.Unlock()
	if lead := done.Sub(first); lead < 300*time.Millisecond {
		t.Errorf("first progress arrived %v before the result, want >= 300ms: progress was buffered", lead)
	}
}

// TestSamplingAndElicitation: server-to-client requests made during a call reach the client
// and their answers reach the server.
func TestSamplingAndElicitation(t *testing.T) {
	t.Parallel()
	for _, json := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", json), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{crun: fakecloudrun.Options{JSONResponse: json}})
			p := e.startProxy(t, proxyOpts{})
			if got := p.mustText(t, "sample", map[string]any{"prompt": "hello"}); got != "sampled (e2e-model): HELLO" {
				t.Errorf("sample = %q", got)
			}
			if got := p.mustText(t, "elicit", map[string]any{"message": "Your name?"}); got != `action=accept content={"name":"Ada"}` {
				t.Errorf("elicit = %q", got)
			}
			p.ev.mu.Lock()
			defer p.ev.mu.Unlock()
			if p.ev.samplings != 1 || p.ev.elicitation != 1 {
				t.Errorf("client handled %d samplings and %d elicitations, want 1 and 1", p.ev.samplings, p.ev.elicitation)
			}
		})
	}
}

// TestListChangedOnGETStream: a tools/list_changed sent outside any request arrives through
// the standalone GET stream, and the new tool is listed.
func TestListChangedOnGETStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	p := e.startProxy(t, proxyOpts{})
	if _, err := e.crun.WaitFor(ctxTimeout(t, 10*time.Second), func(st fakecloudrun.Stats) bool { return st.StandaloneStreams > 0 }); err != nil {
		t.Fatalf("the proxy never opened the standalone GET stream: %v", err)
	}
	p.mustText(t, "change_tools", map[string]any{"delay_ms": 50})
	select {
	case <-p.ev.toolsCh:
	case <-time.After(10 * time.Second):
		t.Fatal("no notifications/tools/list_changed within 10 s")
	}
	lt, err := p.cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tool := range lt.Tools {
		found = found || tool.Name == "dynamic_1"
	}
	if !found {
		t.Error("dynamic_1 not listed after list_changed")
	}
}

// TestResourceSubscription: resources/subscribe, then an update notification per change.
func TestResourceSubscription(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	p := e.startProxy(t, proxyOpts{})
	ctx := context.Background()
	if err := p.cs.Subscribe(ctx, &mcp.SubscribeParams{URI: fakecloudrun.CounterURI}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		p.mustText(t, "bump", map[string]any{})
		select {
		case uri := <-p.ev.resourceCh:
			if uri != fakecloudrun.CounterURI {
				t.Errorf("update for %q", uri)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no notifications/resources/updated for bump %d", i)
		}
		rr, err := p.cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: fakecloudrun.CounterURI})
		if err != nil {
			t.Fatal(err)
		}
		if got := rr.Contents[0].Text; got != fmt.Sprint(i) {
			t.Errorf("counter = %q, want %d", got, i)
		}
	}
}

// TestJSONResponseMode: a server that answers with application/json instead of SSE works,
// including progress (which then travels on the GET stream).
func TestJSONResponseMode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{crun: fakecloudrun.Options{JSONResponse: true}})
	p := e.startProxy(t, proxyOpts{})
	if got := p.mustText(t, "echo", map[string]any{"text": "json"}); got != "json" {
		t.Errorf("echo = %q", got)
	}
	if got := p.mustText(t, "large", map[string]any{"bytes": 1 << 20}); len(got) != 1<<20 {
		t.Errorf("large: %d bytes", len(got))
	}
	params := &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"steps": 2, "interval_ms": 50}}
	params.SetProgressToken(7)
	if _, err := p.cs.CallTool(context.Background(), params); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"step 1 of 2", "step 2 of 2"}, p.ev.waitProgress(2)); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
