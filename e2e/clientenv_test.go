package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakegoogle"
)

// codexPassedEnv are the variables Codex passes to a stdio MCP server besides the entry's
// env (its fixed allow-list); geminiDropped are the names Gemini CLI removes from its own
// environment before starting one.
var (
	codexPassedEnv = []string{"HOME", "LOGNAME", "PATH", "SHELL", "USER", "LANG", "LC_ALL", "TERM", "TMPDIR", "TZ", "PWD", "SSL_CERT_FILE"}
	geminiDropped  = regexp.MustCompile(`(?i)TOKEN|SECRET|PASSWORD|KEY|CREDENTIAL|AUTH|^CLOUDSDK_`)
)

// An entry written by install-config in the user's shell works in a client that passes on
// only part of that environment: install-config recorded what the credentials need.
func TestInstalledEntryWorksWithAClientsEnvironment(t *testing.T) {
	for _, kind := range []fakegoogle.Kind{fakegoogle.ServiceAccountKey, fakegoogle.AuthorizedUser, fakegoogle.AuthorizedUserWellKnown, fakegoogle.Gcloud} {
		for _, client := range []string{"codex-like", "gemini-like"} {
			t.Run(string(kind)+"/"+client, func(t *testing.T) {
				e := newEnv(t, envOpts{kind: kind})
				entry := installEntry(t, e)
				env := clientEnv(client, e.setup.Env)
				for k, v := range entry.Env {
					env = append(env, k+"="+v)
				}
				cmd := exec.Command(entry.Command, entry.Args...)
				cmd.Env, cmd.Dir = env, t.TempDir()
				stderr := &lockedBuffer{}
				cmd.Stderr = stderr
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				cs, err := mcp.NewClient(&mcp.Implementation{Name: client, Version: "1"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: terminateAfter}, nil)
				if err != nil {
					t.Fatalf("initialize: %v\nenv %q\nproxy stderr:\n%s", err, env, stderr)
				}
				defer cs.Close()
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hi"}})
				if err != nil || res.IsError {
					t.Fatalf("echo: %v %+v\nproxy stderr:\n%s", err, res, stderr)
				}
			})
		}
	}
}

// installEntry runs install-config in the user's shell (e's environment, no --env) and
// returns the entry it wrote.
func installEntry(t *testing.T, e *env) struct {
	Command string
	Args    []string
	Env     map[string]string
} {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "settings.json")
	args := append([]string{"install-config", "--client", "gemini", "--config", cfg, "--name", "fake", "--url", e.crun.URL()}, e.setup.Args...)
	cmd := exec.Command(proxyBin, args...)
	cmd.Env, cmd.Dir = e.setup.Env, e.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("install-config: %v\n%s", err, out)
	}
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		MCPServers map[string]struct {
			Command string
			Args    []string
			Env     map[string]string
		} `json:"mcpServers"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.MCPServers["fake"]
}

// clientEnv is what a client like the one named passes down of the user's environment env.
func clientEnv(client string, env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch client {
		case "codex-like":
			if slices.Contains(codexPassedEnv, k) {
				out = append(out, kv)
			}
		case "gemini-like":
			if !geminiDropped.MatchString(k) {
				out = append(out, kv)
			}
		}
	}
	if client == "codex-like" || client == "gemini-like" {
		// A GUI client started from the desktop has the system PATH, not the shell's.
		out = append(out, "PATH=/usr/bin:/bin")
	}
	return out
}
