package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakecloudrun"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakegoogle"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// protocolVersion is what the test client asks for: the newest revision with sessions and
// resumable streams (the default, 2026-07-28, starts with server/discover; one test covers it).
const protocolVersion = "2025-11-25"

// terminateAfter is how long a client waits for the proxy to exit after closing its stdin
// before it sends SIGTERM; the proxy must exit well within it.
const terminateAfter = 5 * time.Second

// env is one hermetic world: a fake Google, a fake Cloud Run and the credentials of one kind.
type env struct {
	google *fakegoogle.Server
	crun   *fakecloudrun.Server
	setup  *fakegoogle.Setup
	dir    string
	// target names the service for run; nil means --url of crun.
	target []string
}

type envOpts struct {
	kind     fakegoogle.Kind
	lifetime time.Duration
	crun     fakecloudrun.Options
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	if o.kind == "" {
		o.kind = fakegoogle.ServiceAccountKey
	}
	if o.lifetime == 0 {
		o.lifetime = time.Hour
	}
	g, err := fakegoogle.New(fakegoogle.Options{TokenLifetime: o.lifetime})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	o.crun.Google = g
	c, err := fakecloudrun.New(o.crun)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	dir := t.TempDir()
	su, err := g.Setup(o.kind, dir, fakegoogle.SetupOptions{GcloudDir: gcloudDir})
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	su.Env = append(su.Env, "TMPDIR="+tmp) // later entries win: the process's temp files land here
	if pem := c.CertPEM(); pem != nil {
		ca := filepath.Join(dir, "fakecloudrun-ca.pem")
		if err := os.WriteFile(ca, pem, 0o600); err != nil {
			t.Fatal(err)
		}
		su.Env = append(su.Env, "SSL_CERT_FILE="+ca)
	}
	return &env{google: g, crun: c, setup: su, dir: dir}
}

// lockedBuffer collects a process's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// proxyCmd returns the command line of `mcp-cloudrun-proxy run` against e.
func (e *env) proxyCmd(extraArgs, extraEnv []string) *exec.Cmd {
	target := e.target
	if target == nil {
		target = []string{"--url", e.crun.URL()}
	}
	args := append(append([]string{"run"}, target...), "--log-level", "debug")
	args = append(args, e.setup.Args...)
	args = append(args, extraArgs...)
	cmd := exec.Command(proxyBin, args...)
	cmd.Env = append(append([]string{}, e.setup.Env...), extraEnv...)
	cmd.Dir = e.dir
	return cmd
}

// clientEvents records what the server sent the client outside results.
type clientEvents struct {
	mu          sync.Mutex
	progress    []progressEvent
	toolsCh     chan struct{}
	resourceCh  chan string
	samplings   int
	elicitation int
}

type progressEvent struct {
	msg string
	at  time.Time
}

func (ev *clientEvents) progressMsgs() []string {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var out []string
	for _, p := range ev.progress {
		out = append(out, p.msg)
	}
	return out
}

// waitProgress polls (with a deadline) for n progress notifications: the go-sdk client
// handles notifications asynchronously, so the last may land just after the result.
func (ev *clientEvents) waitProgress(n int) []string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := ev.progressMsgs()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// proxy is a running mcp-cloudrun-proxy driven by the go-sdk client over stdio.
type proxy struct {
	cs     *mcp.ClientSession
	cmd    *exec.Cmd
	stderr *lockedBuffer
	ev     *clientEvents
	closed bool
	env    *env
}

type proxyOpts struct {
	args, env       []string
	protocolVersion string // "" means protocolVersion; "default" means the client's default
}

// startProxy runs the proxy as an MCP client would and connects (initialize) through it.
// Cleanup closes stdin, requires a prompt exit with status 0, and checks that no token leaked.
func (e *env) startProxy(t *testing.T, o proxyOpts) *proxy {
	t.Helper()
	cmd := e.proxyCmd(o.args, o.env)
	p := &proxy{cmd: cmd, stderr: &lockedBuffer{}, env: e, ev: &clientEvents{toolsCh: make(chan struct{}, 8), resourceCh: make(chan string, 8)}}
	cmd.Stderr = p.stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, &mcp.ClientOptions{
		CreateMessageHandler: func(_ context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			p.ev.mu.Lock()
			p.ev.samplings++
			p.ev.mu.Unlock()
			in, _ := req.Params.Messages[0].Content.(*mcp.TextContent)
			if in == nil {
				return nil, errors.New("want text content")
			}
			return &mcp.CreateMessageResult{Model: "e2e-model", Role: "assistant", Content: &mcp.TextContent{Text: strings.ToUpper(in.Text)}}, nil
		},
		ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			p.ev.mu.Lock()
			p.ev.elicitation++
			p.ev.mu.Unlock()
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "Ada"}}, nil
		},
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			p.ev.mu.Lock()
			p.ev.progress = append(p.ev.progress, progressEvent{msg: req.Params.Message, at: time.Now()})
			p.ev.mu.Unlock()
		},
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case p.ev.toolsCh <- struct{}{}:
			default:
			}
		},
		ResourceUpdatedHandler: func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
			select {
			case p.ev.resourceCh <- req.Params.URI:
			default:
			}
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pv := o.protocolVersion
	switch pv {
	case "":
		pv = protocolVersion
	case "default":
		pv = ""
	}
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: terminateAfter}, &mcp.ClientSessionOptions{ProtocolVersion: pv})
	if err != nil {
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		t.Fatalf("initialize through the proxy: %v\nproxy stderr:\n%s", err, p.stderr)
	}
	p.cs = cs
	t.Cleanup(func() {
		if !p.closed {
			p.close(t)
		}
		checkNoLeak(t, e, p.stderr.String())
	})
	return p
}

// close ends the session as an MCP client does (close stdin) and requires the proxy to exit 0
// before the client would have sent SIGTERM.
func (p *proxy) close(t *testing.T) {
	t.Helper()
	p.closed = true
	start := time.Now()
	err := p.cs.Close()
	took := time.Since(start)
	if took >= terminateAfter {
		t.Errorf("proxy took %v to exit after stdin closed; want < %v (it got SIGTERM)\nstderr:\n%s", took.Round(time.Millisecond), terminateAfter, tail(p.stderr.String()))
	} else if err != nil || p.cmd.ProcessState == nil || p.cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("proxy exit after stdin EOF: err=%v state=%v; want exit 0\nstderr:\n%s", err, p.cmd.ProcessState, tail(p.stderr.String()))
	}
}

func tail(s string) string {
	const n = 4000
	if len(s) > n {
		return "...\n" + s[len(s)-n:]
	}
	return s
}

// callTool calls a tool through the proxy with a timeout.
func (p *proxy) callTool(t *testing.T, name string, args any) (*mcp.CallToolResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return p.cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
}

// mustText calls a tool and returns its text, failing the test on any error.
func (p *proxy) mustText(t *testing.T, name string, args any) string {
	t.Helper()
	res, err := p.callTool(t, name, args)
	if err != nil {
		t.Fatalf("tools/call %s: %v\nproxy stderr:\n%s", name, err, tail(p.stderr.String()))
	}
	return resultText(t, res)
}

func resultText(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if res.IsError || len(res.Content) == 0 {
		t.Fatalf("tool result is an error or empty: %+v", res.Content)
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("tool result content is %T, want text", res.Content[0])
	}
	return tc.Text
}

// secretsOf lists every token-like string the world handed out that must never show up in
// a log or a file: the Authorization values the fake Cloud Run received (and their JWT
// segments), plus well-known prefixes of access and refresh tokens and client secrets.
func secretsOf(e *env) []string {
	secrets := []string{"ya29.fake-", "1//fake-refresh-", "fake-adc-client-secret", "fake-gcloud-secret", "eyJhbGciOi"}
	for _, a := range e.crun.Stats().Authorizations {
		tok := strings.TrimPrefix(a, "Bearer ")
		secrets = append(secrets, tok)
		for _, seg := range strings.Split(tok, ".")[1:] {
			if len(seg) >= 16 {
				secrets = append(secrets, seg)
			}
		}
	}
	return secrets
}

// checkNoLeak fails if a token shows up in stderr or in any file under the test's HOME,
// CLOUDSDK_CONFIG or TMPDIR other than the credential files the test itself wrote.
func checkNoLeak(t *testing.T, e *env, stderr string) {
	t.Helper()
	if strings.Contains(stderr, "WARNING: DATA RACE") {
		t.Errorf("the proxy (built with E2E_RACE=1) reported a data race:\n%s", tail(stderr))
	}
	secrets := secretsOf(e)
	for _, s := range secrets {
		if strings.Contains(stderr, s) {
			t.Errorf("stderr contains a secret (%.12s...)", s)
		}
	}
	own := map[string]bool{}
	for _, f := range e.setup.Files {
		own[f] = true
	}
	_ = filepath.WalkDir(e.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || own[path] || strings.HasSuffix(path, "fakegcloud.calls") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("file %s written during the test contains a secret (%.12s...)", path, s)
			}
		}
		return nil
	})
}

// rawProxy is the proxy driven over raw pipes, for tests about bytes on stdio.
type rawProxy struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr *lockedBuffer
	lines  chan []byte
	done   chan struct{}
}

func (e *env) startRaw(t *testing.T, extraArgs ...string) *rawProxy {
	t.Helper()
	cmd := e.proxyCmd(extraArgs, nil)
	r := &rawProxy{cmd: cmd, stderr: &lockedBuffer{}, lines: make(chan []byte, 64), done: make(chan struct{})}
	cmd.Stderr = r.stderr
	var err error
	if r.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r.stdout = bufio.NewReader(out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(r.lines)
		for {
			line, err := r.stdout.ReadBytes('\n')
			if len(line) > 0 {
				r.lines <- line
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		r.stdin.Close()
		select {
		case <-r.done:
		case <-time.After(terminateAfter):
			_ = cmd.Process.Kill()
			<-r.done
		}
		checkNoLeak(t, e, r.stderr.String())
	})
	return r
}

func (r *rawProxy) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(r.stdin, line+"\n"); err != nil {
		t.Fatalf("write to proxy stdin: %v", err)
	}
}

// next returns the next stdout line as a JSON object; every line must be JSON-RPC 2.0.
func (r *rawProxy) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case line, ok := <-r.lines:
		if !ok {
			t.Fatalf("proxy stdout closed\nstderr:\n%s", tail(r.stderr.String()))
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil || m["jsonrpc"] != "2.0" {
			t.Fatalf("stdout line is not a JSON-RPC 2.0 message: %q", line)
		}
		return m
	case <-time.After(30 * time.Second):
		t.Fatalf("no stdout line within 30 s\nstderr:\n%s", tail(r.stderr.String()))
	}
	return nil
}

// nextResponse skips notifications and returns the next response.
func (r *rawProxy) nextResponse(t *testing.T) map[string]any {
	t.Helper()
	for {
		m := r.next(t)
		if _, ok := m["method"]; !ok {
			return m
		}
	}
}

const rawInitialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
const rawInitialized = `{"jsonrpc":"2.0","method":"notifications/initialized"}`

// editGcloudConfig changes the fake gcloud's configuration of e (its account, its delay).
func (e *env) editGcloudConfig(t *testing.T, edit func(*fakegoogle.GcloudConfig)) {
	t.Helper()
	cfg, err := fakegoogle.ReadGcloudConfig(e.setup.CloudSDKConfig)
	if err != nil {
		t.Fatal(err)
	}
	edit(&cfg)
	if err := fakegoogle.WriteGcloudConfig(e.setup.CloudSDKConfig, cfg); err != nil {
		t.Fatal(err)
	}
}

// connectExpectingFailure starts cmd as an MCP client would and returns how long its
// initialize took, the proxy's stderr once it has exited, and the error initialize ended with
// (nil if it succeeded, after closing the session).
func connectExpectingFailure(t *testing.T, cmd *exec.Cmd) (time.Duration, string, error) {
	t.Helper()
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: terminateAfter}, &mcp.ClientSessionOptions{ProtocolVersion: protocolVersion})
	took := time.Since(start)
	if err == nil {
		cs.Close()
	}
	_ = cmd.Wait()
	return took, stderr.String(), err
}
