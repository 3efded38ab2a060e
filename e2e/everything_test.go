//go:build clients

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The MCP Inspector's CLI (the TypeScript SDK's stdio client) through the built proxy to the
// TypeScript reference server, server-everything, over Streamable HTTP (make test-clients
// installs both): a second server implementation besides the e2e fake's go-sdk one, with its
// own SSE framing, event ids and standalone stream. Each case is one inspector run, so one
// proxy start, handshake and session each.
func TestClientsInspectorThroughProxyToServerEverything(t *testing.T) {
	_, userEnv, project := clientWorld(t) // the fake Google gives the proxy its tokens
	url := startServerEverything(t, userEnv)
	inspector := clientBin(t, "@modelcontextprotocol/inspector/cli/build/cli.js")
	for _, tc := range []struct {
		name string
		args []string
		want []string // in the inspector's output
	}{
		{"tools/list", []string{"--method", "tools/list"}, []string{`"name": "echo"`, `"name": "trigger-long-running-operation"`}},
		{"tools/call", []string{"--method", "tools/call", "--tool-name", "echo", "--tool-arg", "message=through the proxy"}, []string{`"text": "Echo: through the proxy"`}},
		{"a long-running call", []string{"--method", "tools/call", "--tool-name", "trigger-long-running-operation", "--tool-arg", "duration=1", "--tool-arg", "steps=4"}, []string{"Long running operation completed. Duration: 1 seconds, Steps: 4."}},
		{"tools/call image", []string{"--method", "tools/call", "--tool-name", "get-tiny-image"}, []string{`"type": "image"`, `"mimeType": "image/png"`}},
		{"resources/read", []string{"--method", "resources/read", "--uri", "demo://resource/static/document/architecture.md"}, []string{`"mimeType": "text/markdown"`, "Everything Server"}},
		{"prompts/get", []string{"--method", "prompts/get", "--prompt-name", "simple-prompt"}, []string{"This is a simple prompt without arguments."}},
		{"a server's error", []string{"--method", "tools/call", "--tool-name", "no-such-tool"}, []string{"MCP error -32602: Tool no-such-tool not found"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{inspector, "--cli", proxyBin, "run", "--url", url}, tc.args...)
			out := runClient(t, userEnv, project, "node", args...)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("the inspector's output lacks %q", w)
				}
			}
		})
	}
}

// startServerEverything runs server-everything's Streamable HTTP transport on a free port
// until the test ends and returns its MCP URL.
func startServerEverything(t *testing.T, env []string) string {
	return fmt.Sprintf("http://127.0.0.1:%d/mcp", runServerEverything(t, env, "streamableHttp"))
}

// runServerEverything runs server-everything with transport on a free port until the test
// ends and returns the port.
func runServerEverything(t *testing.T, env []string, transport string) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", clientBin(t, "@modelcontextprotocol/server-everything/dist/index.js"), transport)
	cmd.Env, cmd.WaitDelay = append(env, fmt.Sprintf("PORT=%d", port)), 5*time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start server-everything: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var seen []string
		listening := false
		for sc.Scan() { // to the end: the server must never block on a full stderr pipe
			seen = append(seen, sc.Text())
			if !listening && strings.Contains(sc.Text(), "on port") { // "listening on port", "running on port"
				listening = true
				ready <- nil
			}
		}
		if !listening {
			ready <- fmt.Errorf("server-everything ended before listening:\n%s", strings.Join(seen, "\n"))
		}
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server-everything did not say it was listening within 30s")
	}
	return port
}

// A server of the older HTTP+SSE transport (server-everything's "sse"): debug names that
// transport and the fix, and run answers the client's initialize with an error that says so.
func TestClientsOlderSSETransportIsNamed(t *testing.T) {
	_, userEnv, project := clientWorld(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/sse", runServerEverything(t, userEnv, "sse"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, proxyBin, "debug", "--url", url)
	cmd.Env, cmd.Dir, cmd.WaitDelay = userEnv, project, 5*time.Second
	out, _ := cmd.CombinedOutput()
	for _, want := range []string{"this URL serves the older HTTP+SSE transport", "the proxy speaks Streamable HTTP (MCP 2025-03-26 and later) only"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("debug does not say %q:\n%s", want, out)
		}
	}
	cmd = exec.CommandContext(ctx, proxyBin, "run", "--url", url)
	cmd.Env, cmd.Dir, cmd.WaitDelay = userEnv, project, 5*time.Second
	cmd.Stdin = strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}` + "\n")
	answer, err := cmd.Output()
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(string(answer), `"id":1,"error"`) || !strings.Contains(string(answer), "older HTTP+SSE transport") {
		t.Errorf("run answered %s, want an error for id 1 naming the older transport", answer)
	}
}

// A go-sdk client through the built proxy to server-everything: the server's requests inside a
// call's stream (sampling, roots) reach the client and its answers get back, and notifications
// the server sends on the standalone stream the proxy keeps open (log messages, resource
// updates, at server-everything's 5 s pace) reach the client.
func TestClientsServerRequestsAndNotificationsThroughProxyToServerEverything(t *testing.T) {
	_, userEnv, project := clientWorld(t) // the fake Google gives the proxy its tokens
	url := startServerEverything(t, userEnv)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	updated, logged := make(chan string, 16), make(chan string, 64)
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, &mcp.ClientOptions{
		CreateMessageHandler: func(context.Context, *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			return &mcp.CreateMessageResult{Model: "e2e", Role: "assistant", Content: &mcp.TextContent{Text: "sampled through the proxy"}}, nil
		},
		// Never blocking: the server goes on sending every 5 s, and a blocked handler would
		// hold up every later message and the session's Close.
		ResourceUpdatedHandler: func(_ context.Context, r *mcp.ResourceUpdatedNotificationRequest) {
			select {
			case updated <- r.Params.URI:
			default:
			}
		},
		LoggingMessageHandler: func(_ context.Context, r *mcp.LoggingMessageRequest) {
			select {
			case logged <- fmt.Sprint(r.Params.Data):
			default:
			}
		},
	})
	client.AddRoots(&mcp.Root{URI: "file:///e2e/project", Name: "project"})
	cmd := exec.Command(proxyBin, "run", "--url", url)
	cmd.Env, cmd.Dir = userEnv, project
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect through the proxy: %v", err)
	}
	defer cs.Close()
	callText := func(tool string, args map[string]any) string {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
		if err != nil {
			t.Fatalf("%s: %v\nproxy stderr:\n%s", tool, err, stderr.String())
		}
		var text strings.Builder
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				text.WriteString(tc.Text)
			}
		}
		return text.String()
	}
	if got := callText("trigger-sampling-request", map[string]any{"prompt": "hello", "maxTokens": 10}); !strings.Contains(got, "sampled through the proxy") {
		t.Errorf("trigger-sampling-request gave %q, want the client's sampling answer in it", got)
	}
	if got := callText("get-roots-list", map[string]any{}); !strings.Contains(got, "file:///e2e/project") {
		t.Errorf("get-roots-list gave %q, want the client's root in it", got)
	}
	if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "debug"}); err != nil {
		t.Fatal(err)
	}
	const resource = "demo://resource/dynamic/text/1"
	if err := cs.Subscribe(ctx, &mcp.SubscribeParams{URI: resource}); err != nil {
		t.Fatal(err)
	}
	callText("toggle-simulated-logging", map[string]any{})
	callText("toggle-subscriber-updates", map[string]any{})
	waitUpdate, waitLog := updated, logged // each set to nil once its kind arrived
	for want := 2; want > 0; want-- {
		select {
		case uri := <-waitUpdate:
			if uri != resource {
				t.Errorf("update for %q, want %q", uri, resource)
			}
			waitUpdate = nil
		case <-waitLog:
			waitLog = nil
		case <-time.After(20 * time.Second):
			t.Fatalf("within 20s: resource update %v, log message %v (false: still waiting)\nproxy stderr:\n%s", waitUpdate == nil, waitLog == nil, stderr.String())
		}
	}
	if strings.Contains(stderr.String(), "level=WARN") {
		t.Errorf("the proxy warned:\n%s", stderr.String())
	}
}
