package e2e

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakecloudrun"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakegoogle"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/faults"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// serverModes are the three shapes of server a 2026-07-28 client meets on Cloud Run.
var serverModes = []struct {
	name      string
	opts      fakecloudrun.Options
	stateless bool
}{
	{name: "stateful 2025", opts: fakecloudrun.Options{}},
	{name: "stateless dual", opts: fakecloudrun.Options{Stateless: true}, stateless: true},
	{name: "stateless 2026 only", opts: fakecloudrun.Options{Stateless: true, ProtocolVersions: []string{"2026-07-28"}}, stateless: true},
}

// connectDirect connects a go-sdk client (default protocol: 2026-07-28 first) straight to
// the fake Cloud Run, as the reference for what the proxy must reproduce.
func connectDirect(t *testing.T, e *env, ev *clientEvents) *mcp.ClientSession {
	t.Helper()
	key, err := e.google.WriteServiceAccountKey(t.TempDir(), fakegoogle.ServiceAccountEmail)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fakegoogle.GcloudConfig{TokenURI: e.google.TokenURL(), IAMEndpoint: e.google.URL(), Account: fakegoogle.ServiceAccountEmail, AccountType: "service_account", KeyFile: key}
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, &mcp.ClientOptions{
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "Ada"}}, nil
		},
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case ev.toolsCh <- struct{}{}:
			default:
			}
		},
	})
	tr := &mcp.StreamableClientTransport{Endpoint: e.crun.URL(), HTTPClient: &http.Client{Transport: cfg.Transport(e.crun.Origin())}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, tr, nil)
	if err != nil {
		t.Fatalf("direct connect: %v", err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// modernScenario exercises what 2026-07-28 derives headers from and returns what the client
// saw, one line per step.
func modernScenario(t *testing.T, cs *mcp.ClientSession, ev *clientEvents) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []string
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	for _, tool := range tools.Tools {
		if !strings.HasPrefix(tool.Name, "dynamic_") { // added by an earlier change_tools
			out = append(out, "tool: "+tool.Name)
		}
	}
	for _, args := range []map[string]any{
		{"region": "us-west1", "days": 3, "query": "rain"},
		{"region": " Zürich =?base64?x?= ", "days": 2},
		{"region": "=?base64?literal?="},
	} {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "forecast", Arguments: args})
		if err != nil {
			t.Fatalf("forecast %v: %v", args, err)
		}
		out = append(out, "forecast: "+resultText(t, res))
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "greet"})
	if err != nil {
		t.Fatalf("greet: %v", err)
	}
	out = append(out, "greet: "+resultText(t, res))
	rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: fakecloudrun.CounterURI})
	if err != nil {
		t.Fatalf("resources/read: %v", err)
	}
	out = append(out, "resource: "+rr.Contents[0].Text)
	pr, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: fakecloudrun.GreetingPrompt, Arguments: map[string]string{"name": "Bo"}})
	if err != nil {
		t.Fatalf("prompts/get: %v", err)
	}
	out = append(out, "prompt: "+pr.Messages[0].Content.(*mcp.TextContent).Text)
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "change_tools", Arguments: map[string]any{"delay_ms": 1}}); err != nil {
		t.Fatalf("change_tools: %v", err)
	}
	select {
	case <-ev.toolsCh:
		out = append(out, "tools/list_changed arrived")
	case <-time.After(10 * time.Second):
		out = append(out, "tools/list_changed did not arrive")
	}
	return out
}

// routingOf lists, for the POSTs in reqs, the method and the routing headers the server saw,
// sorted, so that two clients' traffic compares request for request whatever the order of
// concurrent requests.
func routingOf(reqs []fakecloudrun.Request) []string {
	var out []string
	for _, r := range reqs {
		if r.Method != http.MethodPost {
			continue
		}
		keys := make([]string, 0, len(r.Routing))
		for k := range r.Routing {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		line := r.RPCMethod
		for _, k := range keys {
			line += " " + k + "=" + r.Routing[k]
		}
		out = append(out, line)
	}
	sort.Strings(out)
	return out
}

func TestModernProtocolThroughTheProxyMatchesADirectClient(t *testing.T) {
	for _, mode := range serverModes {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, envOpts{crun: mode.opts})

			dev := &clientEvents{toolsCh: make(chan struct{}, 8)}
			direct := connectDirect(t, e, dev)
			wantOut := modernScenario(t, direct, dev)
			wantVersion := direct.InitializeResult().ProtocolVersion
			wantRouting := routingOf(e.crun.Stats().Requests)
			_ = direct.Close()

			before := len(e.crun.Stats().Requests)
			p := e.startProxy(t, proxyOpts{protocolVersion: "default"})
			gotOut := modernScenario(t, p.cs, p.ev)
			reqs := e.crun.Stats().Requests[before:]

			if got := p.cs.InitializeResult().ProtocolVersion; got != wantVersion {
				t.Errorf("negotiated %q through the proxy, %q directly", got, wantVersion)
			}
			if !slices.Equal(gotOut, wantOut) {
				t.Errorf("through the proxy the client saw\n%s\nwant (direct)\n%s", strings.Join(gotOut, "\n"), strings.Join(wantOut, "\n"))
			}
			if got := routingOf(reqs); !slices.Equal(got, wantRouting) {
				t.Errorf("routing headers through the proxy:\n%s\nwant (direct):\n%s", strings.Join(got, "\n"), strings.Join(wantRouting, "\n"))
			}
			if mode.stateless {
				for _, r := range reqs {
					if r.SessionID != "" || r.Method == http.MethodGet || r.Method == http.MethodDelete {
						t.Errorf("stateless server got %s with session %q from the proxy", r.Method, r.SessionID)
					}
				}
			}
			if strings.Contains(p.stderr.String(), "level=WARN") {
				t.Errorf("a healthy session logged a warning:\n%s", tail(p.stderr.String()))
			}
		})
	}
}

// A listen stream outlives its tokens and Cloud Run's request timeout: when the server ends
// it, the proxy opens it again (a 401 on the way is answered with a fresh token) and the
// notifications keep coming.
func TestListenStreamIsReopenedWithAFreshToken(t *testing.T) {
	e := newEnv(t, envOpts{crun: fakecloudrun.Options{Stateless: true, ProtocolVersions: []string{"2026-07-28"}}})
	e.crun.Faults().CutStreams(faults.Cut{RPCMethod: "subscriptions/listen", After: time.Second})
	p := e.startProxy(t, proxyOpts{protocolVersion: "default"})
	listens := func() (n int) {
		for _, r := range e.crun.Stats().Requests {
			if r.RPCMethod == "subscriptions/listen" && r.Status != http.StatusUnauthorized {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(15 * time.Second)
	for listens() < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// The open stream is cut in a second; the proxy's next one is refused once.
	e.crun.Faults().FailNext(faults.Failure{Status: http.StatusUnauthorized, RPCMethod: "subscriptions/listen"})
	for listens() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := listens(); n < 2 {
		t.Fatalf("listen stream opened %d times, want it reopened after the cut\n%s", n, tail(p.stderr.String()))
	}
	if _, err := p.callTool(t, "change_tools", map[string]any{"delay_ms": 1}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.ev.toolsCh:
	case <-time.After(10 * time.Second):
		t.Fatalf("tools/list_changed did not arrive on the reopened listen stream\n%s", tail(p.stderr.String()))
	}
	if got := e.crun.Faults().Stats().Injected[http.StatusUnauthorized]; got != 1 {
		t.Errorf("injected 401s: %d, want 1", got)
	}
}
