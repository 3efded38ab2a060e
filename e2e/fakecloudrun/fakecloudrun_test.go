package fakecloudrun_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakecloudrun"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakegoogle"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/faults"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type env struct {
	google *fakegoogle.Server
	crun   *fakecloudrun.Server
	sa     fakegoogle.GcloudConfig
}

func newEnv(t *testing.T, opts fakecloudrun.Options) *env {
	t.Helper()
	g, err := fakegoogle.New(fakegoogle.Options{TokenLifetime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	opts.Google = g
	c, err := fakecloudrun.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	key, err := g.WriteServiceAccountKey(t.TempDir(), fakegoogle.ServiceAccountEmail)
	if err != nil {
		t.Fatal(err)
	}
	sa := fakegoogle.GcloudConfig{TokenURI: g.TokenURL(), IAMEndpoint: g.URL(), Account: fakegoogle.ServiceAccountEmail, AccountType: "service_account", KeyFile: key}
	return &env{google: g, crun: c, sa: sa}
}

type events struct {
	mu         sync.Mutex
	progress   []string
	toolsCh    chan struct{}
	resourceCh chan string
}

// waitProgress waits up to 5 s for n progress notifications: the client handles them
// asynchronously, so the last may land after the result.
func (ev *events) waitProgress(n int) []string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ev.mu.Lock()
		got := append([]string(nil), ev.progress...)
		ev.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) connect(t *testing.T, ev *events) *mcp.ClientSession {
	t.Helper()
	opts := &mcp.ClientOptions{
		CreateMessageHandler: func(_ context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			in := req.Params.Messages[0].Content.(*mcp.TextContent).Text
			return &mcp.CreateMessageResult{Model: "fake-model", Role: "assistant", Content: &mcp.TextContent{Text: strings.ToUpper(in)}}, nil
		},
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "Ada"}}, nil
		},
	}
	if ev != nil {
		opts.ProgressNotificationHandler = func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			ev.mu.Lock()
			ev.progress = append(ev.progress, req.Params.Message)
			ev.mu.Unlock()
		}
		opts.ToolListChangedHandler = func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case ev.toolsCh <- struct{}{}:
			default:
			}
		}
		opts.ResourceUpdatedHandler = func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
			ev.resourceCh <- req.Params.URI
		}
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, opts)
	tr := &mcp.StreamableClientTransport{Endpoint: e.crun.URL(), HTTPClient: &http.Client{Transport: e.sa.Transport(e.crun.Origin())}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, tr, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func textOf(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if res.IsError {
		t.Fatalf("tool error: %v", res.Content)
	}
	return res.Content[0].(*mcp.TextContent).Text
}

func call(t *testing.T, cs *mcp.ClientSession, name string, args any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	return res
}

func TestTools(t *testing.T) {
	e := newEnv(t, fakecloudrun.Options{})
	ev := &events{toolsCh: make(chan struct{}, 1), resourceCh: make(chan string, 1)}
	cs := e.connect(t, ev)
	ctx := context.Background()

	if got := textOf(t, call(t, cs, "echo", map[string]any{"text": "hi", "delay_ms": 5})); got != "hi" {
		t.Errorf("echo = %q", got)
	}
	if got := call(t, cs, "add", map[string]any{"a": 2, "b": 3}).StructuredContent; !cmp.Equal(got, map[string]any{"sum": float64(5)}) {
		t.Errorf("add structured = %v", got)
	}
	if got := textOf(t, call(t, cs, "large", map[string]any{"bytes": 100000})); got != fakecloudrun.LargeText(100000) {
		t.Errorf("large: got %d bytes", len(got))
	}
	params := &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"steps": 3, "interval_ms": 1}}
	params.SetProgressToken("p1")
	if _, err := cs.CallTool(ctx, params); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"step 1 of 3", "step 2 of 3", "step 3 of 3"}, ev.waitProgress(3)); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	if got := textOf(t, call(t, cs, "sample", map[string]any{"prompt": "hello"})); got != "sampled (fake-model): HELLO" {
		t.Errorf("sample = %q", got)
	}
	if got := textOf(t, call(t, cs, "elicit", map[string]any{"message": "name?"})); got != `action=accept content={"name":"Ada"}` {
		t.Errorf("elicit = %q", got)
	}
	call(t, cs, "change_tools", map[string]any{"delay_ms": 1})
	select {
	case <-ev.toolsCh:
	case <-time.After(5 * time.Second):
		t.Error("no tools/list_changed")
	}
	if err := cs.Subscribe(ctx, &mcp.SubscribeParams{URI: fakecloudrun.CounterURI}); err != nil {
		t.Fatal(err)
	}
	call(t, cs, "bump", map[string]any{})
	select {
	case uri := <-ev.resourceCh:
		if uri != fakecloudrun.CounterURI {
			t.Errorf("updated %q", uri)
		}
	case <-time.After(5 * time.Second):
		t.Error("no resources/updated")
	}
	who := call(t, cs, "whoami", map[string]any{}).StructuredContent.(map[string]any)
	if who["email"] != fakegoogle.ServiceAccountEmail || who["aud"] != e.crun.Origin() {
		t.Errorf("whoami email=%v aud=%v", who["email"], who["aud"])
	}
	st := e.crun.Stats()
	if st.SessionsCreated != 1 || st.StandaloneStreams < 1 || len(st.Authorizations) == 0 {
		t.Errorf("stats: created=%d standalone=%d auths=%d", st.SessionsCreated, st.StandaloneStreams, len(st.Authorizations))
	}
}

func TestGate(t *testing.T) {
	e := newEnv(t, fakecloudrun.Options{Audiences: []string{"custom-aud"}})
	ctx := context.Background()
	tok := func(aud string) string {
		s, err := e.sa.IdentityToken(ctx, http.DefaultClient, aud, "")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := tok(e.crun.Origin())
	tests := []struct {
		desc       string
		auth       string
		invokers   []string
		revoke     bool
		wantStatus int
	}{
		{"no token", "", nil, false, 403},
		{"garbage", "Bearer abc.def.ghi", nil, false, 401},
		{"wrong audience", "Bearer " + tok("https://other.run.app"), nil, false, 401},
		{"custom audience", "Bearer " + tok("custom-aud"), nil, false, 400},
		{"gcloud client id", "Bearer " + tok(fakegoogle.GcloudClientID), nil, false, 400},
		{"origin", "Bearer " + good, nil, false, 400},
		{"not an invoker", "Bearer " + good, []string{"someone@else"}, false, 403},
		{"revoked", "Bearer " + good, nil, true, 401},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			e.crun.SetInvokers(tc.invokers)
			if tc.revoke {
				e.crun.RevokeTokens()
			}
			// A GET without a session passes the gate and fails in the MCP handler with 400.
			req, _ := http.NewRequest(http.MethodGet, e.crun.URL(), nil)
			req.Header.Set("Accept", "text/event-stream")
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantStatus == 401 || tc.wantStatus == 403 {
				if resp.Header.Get("WWW-Authenticate") == "" || !strings.Contains(string(body), "<html>") {
					t.Errorf("want WWW-Authenticate and an HTML body, got %q / %q", resp.Header.Get("WWW-Authenticate"), body)
				}
			}
		})
	}
}

func TestFaults(t *testing.T) {
	t.Run("injected 503 with Retry-After", func(t *testing.T) {
		e := newEnv(t, fakecloudrun.Options{})
		e.crun.Faults().FailNext(faults.Failure{Count: 2, Status: 503, RetryAfter: 1500 * time.Millisecond})
		for i := range 3 {
			resp, err := http.Post(e.crun.URL(), "application/json", strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			want, wantRA := 503, "2"
			if i == 2 {
				want, wantRA = 403, ""
			}
			if resp.StatusCode != want || resp.Header.Get("Retry-After") != wantRA {
				t.Errorf("request %d: %d Retry-After %q, want %d %q", i, resp.StatusCode, resp.Header.Get("Retry-After"), want, wantRA)
			}
		}
		if got := e.crun.Stats().Injected[503]; got != 2 {
			t.Errorf("injected 503s = %d, want 2", got)
		}
	})
	for _, abrupt := range []bool{true, false} {
		t.Run(fmt.Sprintf("cut abrupt=%v is resumed by the go-sdk client", abrupt), func(t *testing.T) {
			e := newEnv(t, fakecloudrun.Options{})
			ev := &events{toolsCh: make(chan struct{}, 1), resourceCh: make(chan string, 1)}
			cs := e.connect(t, ev)
			e.crun.Faults().CutStreams(faults.Cut{AfterEvents: 1, Abrupt: abrupt, Method: "POST"})
			params := &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"steps": 3, "interval_ms": 20}}
			params.SetProgressToken("p")
			res, err := cs.CallTool(context.Background(), params)
			if err != nil {
				t.Fatal(err)
			}
			if got := textOf(t, res); got != "done after 3 steps" {
				t.Errorf("result %q", got)
			}
			st := e.crun.Stats()
			if st.StreamsCut != 1 || st.StreamsResumed < 1 {
				t.Errorf("cut=%d resumed=%d, want 1 and >=1", st.StreamsCut, st.StreamsResumed)
			}
			if diff := cmp.Diff([]string{"step 1 of 3", "step 2 of 3", "step 3 of 3"}, ev.waitProgress(3)); diff != "" {
				t.Errorf("progress (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("expired session answers 404", func(t *testing.T) {
		e := newEnv(t, fakecloudrun.Options{})
		cs := e.connect(t, nil)
		if n := e.crun.ExpireSessions(); n != 1 {
			t.Errorf("expired %d sessions, want 1", n)
		}
		_, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "x"}})
		if err == nil {
			t.Fatal("call on an expired session succeeded")
		}
		st := e.crun.Stats()
		if st.ByStatus[404] == 0 {
			t.Errorf("no 404 seen: %v", st.ByStatus)
		}
	})
	t.Run("json mode", func(t *testing.T) {
		e := newEnv(t, fakecloudrun.Options{JSONResponse: true})
		cs := e.connect(t, nil)
		if got := textOf(t, call(t, cs, "echo", map[string]any{"text": "j"})); got != "j" {
			t.Errorf("echo = %q", got)
		}
	})
}

func TestControlOverHTTP(t *testing.T) {
	e := newEnv(t, fakecloudrun.Options{})
	post := func(path string) int {
		resp, err := http.Post(e.crun.Origin()+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, p := range []string{"/_fake/fail?status=429&retry_after=1&count=1", "/_fake/cut?after_events=1&mode=abrupt", "/_fake/revoke", "/_fake/expire-sessions", "/_fake/json?on=true", "/_fake/token-lifetime?seconds=5"} {
		if got := post(p); got/100 != 2 {
			t.Errorf("POST %s: %d", p, got)
		}
	}
	if f, c := e.crun.Faults().Pending(); f != 1 || c != 1 {
		t.Errorf("pending failures/cuts = %d/%d, want 1/1", f, c)
	}
	if got := post("/_fake/reset"); got != 204 {
		t.Errorf("reset: %d", got)
	}
	resp, err := http.Get(e.crun.Origin() + "/_fake/stats")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"sessions_created"`) || strings.Contains(string(body), "Bearer") {
		t.Errorf("stats body: %s", body)
	}
}
