//go:build clients

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The official MCP conformance suite's client scenarios (@modelcontextprotocol/conformance,
// installed by `make test-clients`) start a client command against a server of theirs and
// judge what reaches it over HTTP. Here the command is a go-sdk client on stdio driving the
// built proxy, so what they judge is the relay: its handshake, tool calls, the server's
// request (elicitation) relayed within a call and the client's answer relayed back, and
// resuming an event stream the server closed (retry field timing, Last-Event-ID). The auth/*
// scenarios are OAuth, which the relay does not speak (it sends Google ID tokens).
func TestClientsConformance(t *testing.T) {
	bin := clientBin(t, ".bin/conformance")
	for _, scenario := range []string{"initialize", "tools_call", "elicitation-sep1034-client-defaults", "sse-retry"} {
		t.Run(scenario, func(t *testing.T) {
			t.Parallel()
			_, userEnv, project := clientWorld(t) // the fake Google gives the proxy its tokens
			self, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			env := append(userEnv, "E2E_HELPER="+conformanceClient, "E2E_HELPER_PROXY="+proxyBin, "E2E_HELPER_LOG="+filepath.Join(project, "proxy.log"))
			out := runClient(t, env, project, bin, "client", "--command", self, "--scenario", scenario, "--timeout", "60000")
			if !strings.Contains(out, "OVERALL: PASSED") {
				log, _ := os.ReadFile(filepath.Join(project, "proxy.log"))
				t.Errorf("scenario %s did not pass through the proxy; proxy's log:\n%s", scenario, log)
			}
		})
	}
}

const conformanceClient = "conformance-client"

func init() { helpers[conformanceClient] = runConformanceClient }

// runConformanceClient is the client the suite starts, with the server's URL as its last
// argument: it connects through `mcp-cloudrun-proxy run --url URL`, lists the tools and calls
// each (add_numbers with a=1, b=2), accepting any elicitation with the schema's defaults.
func runConformanceClient() int {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "conformance client: want the server URL as the last argument")
		return 2
	}
	if err := conformanceSession(os.Args[len(os.Args)-1]); err != nil {
		fmt.Fprintf(os.Stderr, "conformance client: %v\n", err)
		return 1
	}
	return 0
}

func conformanceSession(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	log, err := os.OpenFile(os.Getenv("E2E_HELPER_LOG"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(os.Getenv("E2E_HELPER_PROXY"), "run", "--url", url, "--log-level", "debug")
	cmd.Stderr = log
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "E2E_HELPER") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e-conformance", Version: "1"}, &mcp.ClientOptions{
		// Accepting with empty content lets the SDK fill in the schema's defaults.
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{}}, nil
		},
	})
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		return fmt.Errorf("connect through the proxy: %w", err)
	}
	defer cs.Close()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		return fmt.Errorf("tools/list: %w", err)
	}
	for _, tool := range tools.Tools {
		args := map[string]any{}
		if tool.Name == "add_numbers" {
			args = map[string]any{"a": 1, "b": 2}
		}
		if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool.Name, Arguments: args}); err != nil {
			return fmt.Errorf("tools/call %s: %w", tool.Name, err)
		}
	}
	return nil
}
