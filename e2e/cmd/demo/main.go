// Command demo is what `make demo` runs: it starts the fakecloudrun command (a fake Cloud Run
// MCP service behind an IAM gate, plus a fake Google), runs `mcp-cloudrun-proxy debug`
// against it when the binary has that command, then drives a short scripted MCP session
// through `mcp-cloudrun-proxy run` (initialize, tools/list, echo, a slow tool with progress, a
// sampling round trip, whoami) and prints it readably. It stops everything it started and
// exits 0 only if every step worked.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

// The service the fake Admin API serves for the demo.
const (
	demoService = "mcp-demo"
	demoProject = "fake-project"
	demoRegion  = "us-central1"
)

// readiness is what fakecloudrun announces on its first stdout line.
type readiness struct {
	url, control, envFile, credentials, kind, service string
}

func parseReadiness(line string) (readiness, error) {
	const prefix = "fakecloudrun listening "
	if !strings.HasPrefix(line, prefix) {
		return readiness{}, fmt.Errorf("unexpected first line from fakecloudrun: %q", line)
	}
	var r readiness
	for _, f := range strings.Fields(strings.TrimPrefix(line, prefix)) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "url":
			r.url = v
		case "control":
			r.control = v
		case "env_file":
			r.envFile = v
		case "credentials":
			r.credentials = v
		case "kind":
			r.kind = v
		case "service":
			r.service = v
		}
	}
	if r.url == "" || r.envFile == "" {
		return readiness{}, fmt.Errorf("fakecloudrun readiness line lacks url or env_file: %q", line)
	}
	return r, nil
}

// syncBuffer collects a child's stderr, shown only when something fails.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func indent(s, prefix string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix) + "\n"
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	proxyBin := fs.String("proxy", "bin/mcp-cloudrun-proxy", "the mcp-cloudrun-proxy binary")
	fakeBin := fs.String("fakecloudrun", "bin/fakecloudrun", "the fakecloudrun binary")
	if err := fs.Parse(args); err != nil {
		return err
	}
	say := func(format string, a ...any) { fmt.Fprintf(out, format, a...) }

	// 1. The fake Cloud Run service.
	fake := exec.CommandContext(ctx, *fakeBin, "--service", demoService, "--project", demoProject, "--region", demoRegion)
	fakeErr := &syncBuffer{}
	fake.Stderr = fakeErr
	fakeOut, err := fake.StdoutPipe()
	if err != nil {
		return err
	}
	if err := fake.Start(); err != nil {
		return fmt.Errorf("start %s: %w (run `make demo`, which builds it)", *fakeBin, err)
	}
	defer func() {
		_ = fake.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = fake.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = fake.Process.Kill()
			<-done
		}
	}()
	lineCh := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(fakeOut).ReadString('\n')
		lineCh <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, fakeOut)
	}()
	var ready readiness
	select {
	case line := <-lineCh:
		if ready, err = parseReadiness(line); err != nil {
			return fmt.Errorf("%w\nfakecloudrun stderr:\n%s", err, fakeErr)
		}
	case <-time.After(30 * time.Second):
		return fmt.Errorf("fakecloudrun printed no readiness line within 30 s\nstderr:\n%s", fakeErr)
	}
	envBytes, err := os.ReadFile(ready.envFile)
	if err != nil {
		return fmt.Errorf("read fakecloudrun env file: %w", err)
	}
	env := strings.Fields(string(envBytes))

	say("== mcp-cloudrun-proxy demo ==\n\n")
	say("1. fakecloudrun: a fake Cloud Run MCP service behind an IAM gate, and a fake Google\n")
	say("   url          %s\n", ready.url)
	say("   credentials  %s (%s)\n", strings.Split(ready.credentials, ",")[0], ready.kind)
	say("   service      %s (Cloud Run Admin API on the fake Google)\n", ready.service)
	say("   faults       %s (curl it for the list)\n\n", ready.control)

	// 2. debug, if this build has it.
	help := exec.CommandContext(ctx, *proxyBin, "debug", "--help")
	help.Env = env
	if err := help.Run(); err != nil {
		say("2. mcp-cloudrun-proxy debug: not in this build (`debug --help` failed: %v); skipped\n\n", err)
	} else {
		// By name, as users know their service: the URL comes from the (fake) Admin API, and
		// the service step reads its settings before any MCP request.
		say("2. mcp-cloudrun-proxy debug --service %s --region %s --project %s\n", demoService, demoRegion, demoProject)
		dbg := exec.CommandContext(ctx, *proxyBin, "debug", "--service", demoService, "--region", demoRegion, "--project", demoProject)
		dbg.Env = env
		b, err := dbg.CombinedOutput()
		say("%s", indent(string(b), "   | "))
		if err != nil {
			return fmt.Errorf("mcp-cloudrun-proxy debug against fakecloudrun failed: %w", err)
		}
		say("\n")
	}

	// 3. A scripted session through the proxy.
	deletedBefore, err := sessionsDeleted(ctx, ready.control)
	if err != nil {
		return err
	}
	say("3. an MCP client session through: mcp-cloudrun-proxy run --url %s\n", ready.url)
	proxyErr := &syncBuffer{}
	cmd := exec.Command(*proxyBin, "run", "--url", ready.url)
	cmd.Env = env
	cmd.Stderr = proxyErr
	if err := session(ctx, cmd, say); err != nil {
		return fmt.Errorf("%w\nproxy stderr:\n%s", err, proxyErr)
	}
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	deleted, err := sessionsDeleted(ctx, ready.control)
	if err != nil {
		return err
	}
	verdict := "the proxy deleted its upstream session"
	if deleted-deletedBefore != 1 {
		verdict = fmt.Sprintf("fakecloudrun saw %d session deletions (want 1)", deleted-deletedBefore)
	}
	say("\n4. stdin closed: the proxy exited with status %d and %s; fakecloudrun stopped.\n", code, verdict)
	say("\nNext: point an MCP client at the proxy (see e2e/README.md, \"Try it with Claude Desktop\").\n")
	if code != 0 {
		return fmt.Errorf("the proxy exited with status %d\nstderr:\n%s", code, proxyErr)
	}
	return nil
}

// sessionsDeleted reads the counter from fakecloudrun's control endpoint.
func sessionsDeleted(ctx context.Context, control string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, control+"stats", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("read fakecloudrun stats: %w", err)
	}
	defer resp.Body.Close()
	var st struct {
		SessionsDeleted int `json:"sessions_deleted"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0, fmt.Errorf("decode fakecloudrun stats: %w", err)
	}
	return st.SessionsDeleted, nil
}

// session runs the scripted client session and prints each exchange.
func session(ctx context.Context, cmd *exec.Cmd, say func(string, ...any)) error {
	var mu sync.Mutex
	var progress []string
	client := mcp.NewClient(&mcp.Implementation{Name: "mcp-cloudrun-proxy-demo", Version: "1"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			defer mu.Unlock()
			progress = append(progress, req.Params.Message)
			say("   <- notifications/progress %.0f/%.0f %q\n", req.Params.Progress, req.Params.Total, req.Params.Message)
		},
		CreateMessageHandler: func(_ context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			prompt := ""
			if t, ok := req.Params.Messages[0].Content.(*mcp.TextContent); ok {
				prompt = t.Text
			}
			answer := "Tokens refreshed in time; / the proxy relays each line / to Cloud Run and back."
			say("   <- sampling/createMessage %q (the server asks this client's model)\n", prompt)
			say("   -> sampling result       %q\n", answer)
			return &mcp.CreateMessageResult{Model: "demo-model", Role: "assistant", Content: &mcp.TextContent{Text: answer}}, nil
		},
	})
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: 10 * time.Second}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		return fmt.Errorf("initialize through the proxy: %w", err)
	}
	init := cs.InitializeResult()
	say("   -> initialize            <- %s %s, protocol %s\n", init.ServerInfo.Name, init.ServerInfo.Version, init.ProtocolVersion)

	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		cs.Close()
		return fmt.Errorf("tools/list: %w", err)
	}
	var names []string
	for _, t := range tools.Tools {
		names = append(names, t.Name)
	}
	say("   -> tools/list            <- %d tools: %s\n", len(names), strings.Join(names, ", "))

	callText := func(label string, params *mcp.CallToolParams) (string, error) {
		say("   -> tools/call %-10s %s\n", params.Name, label)
		res, err := cs.CallTool(ctx, params)
		if err != nil {
			return "", fmt.Errorf("tools/call %s: %w", params.Name, err)
		}
		if res.IsError {
			return "", fmt.Errorf("tools/call %s: tool error %v", params.Name, res.Content)
		}
		if res.StructuredContent != nil {
			return fmt.Sprint(res.StructuredContent), nil
		}
		if len(res.Content) > 0 {
			if t, ok := res.Content[0].(*mcp.TextContent); ok {
				return t.Text, nil
			}
		}
		return "", nil
	}
	steps := []struct {
		label  string
		params *mcp.CallToolParams
	}{
		{`{"text": "Hello, Cloud Run"}`, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "Hello, Cloud Run"}}},
		{`{"steps": 3, "interval_ms": 300} with a progress token`, &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"steps": 3, "interval_ms": 300}}},
		{`{"prompt": "Write a haiku about ID tokens"}`, &mcp.CallToolParams{Name: "sample", Arguments: map[string]any{"prompt": "Write a haiku about ID tokens"}}},
		{`{} (the claims of the ID token Cloud Run accepted)`, &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}}},
	}
	steps[1].params.SetProgressToken("demo")
	for _, s := range steps {
		got, err := callText(s.label, s.params)
		if err != nil {
			cs.Close()
			return err
		}
		if s.params.Name == "slow" {
			// Notifications are handled asynchronously; let the last one print first.
			deadline := time.Now().Add(2 * time.Second)
			for {
				mu.Lock()
				n := len(progress)
				mu.Unlock()
				if n >= 3 || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		if s.params.Name == "whoami" {
			got = summariseClaims(got)
		}
		say("      result               <- %s\n", got)
	}
	if err := cs.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("closing the session: %w", err)
	}
	return nil
}

// summariseClaims keeps the claims worth showing; the token itself is never printed.
func summariseClaims(s string) string {
	var keep []string
	for _, k := range []string{"email:", "aud:", "iss:"} {
		if i := strings.Index(s, k); i >= 0 {
			rest := s[i:]
			if j := strings.IndexAny(rest, " ]"); j > 0 {
				rest = rest[:j]
			}
			keep = append(keep, rest)
		}
	}
	return strings.Join(keep, " ")
}
