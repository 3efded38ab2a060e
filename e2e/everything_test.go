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
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", clientBin(t, "@modelcontextprotocol/server-everything/dist/index.js"), "streamableHttp")
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
			if !listening && strings.Contains(sc.Text(), "listening on port") {
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
	return fmt.Sprintf("http://127.0.0.1:%d/mcp", port)
}
