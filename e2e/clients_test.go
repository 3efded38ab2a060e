//go:build clients

// Tests with real MCP clients, run by `make test-clients` (which installs the pinned
// clients with npm into CLIENTS_DIR and builds the proxy). Each client checks, with its own
// listing or health check, an entry written by install-config against the fake Cloud Run.

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakegoogle"
)

// brokenKey is a credentials file that does not exist: run cannot start, and the client
// must show why (the OS's words in the proxy's one-line reason).
const (
	brokenKey    = "/nonexistent/mcp-cloudrun-proxy-test/key.json"
	brokenReason = "no such file or directory"
)

// A realClient is one installed client and how to ask it about its MCP servers.
type realClient struct {
	name   string // --client of install-config
	scope  string
	prep   func(t *testing.T, home, project string) // trust the project, etc.
	health func(t *testing.T, env []string, dir string) string
	// connected matches the health check's line for a connected server called fake.
	connected *regexp.Regexp
	// failed matches its line for a server called fake that did not start, when the
	// client's health check shows no reason (Gemini CLI's `mcp list` shows none, even with
	// --debug; its interactive /mcp does).
	failed *regexp.Regexp
}

func clientsDir(t *testing.T) string {
	d := os.Getenv("CLIENTS_DIR")
	if d == "" {
		t.Fatal("CLIENTS_DIR is not set: run `make test-clients`, which installs the clients with npm")
	}
	return d
}

// clientBin finds an installed file by glob under CLIENTS_DIR/node_modules: the platform
// packages hold the clients' native binaries, so npm's install scripts need not run.
func clientBin(t *testing.T, pattern string) string {
	m, _ := filepath.Glob(filepath.Join(clientsDir(t), "node_modules", pattern))
	for _, p := range m {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	t.Fatalf("no %s under %s/node_modules: run `make test-clients`", pattern, clientsDir(t))
	return ""
}

// runClient runs a client command with a deadline and returns what it printed.
func runClient(t *testing.T, env []string, dir string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env, cmd.Dir, cmd.WaitDelay = env, dir, 5*time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("%s %s (%v):\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	return string(out)
}

func realClients() []realClient {
	return []realClient{
		{
			name: "claude-code", scope: "user",
			health: func(t *testing.T, env []string, dir string) string {
				return runClient(t, env, dir, clientBin(t, "@anthropic-ai/claude-code-linux-*/claude"), "mcp", "list")
			},
			connected: regexp.MustCompile(`(?m)^fake: .*Connected`),
		},
		{
			name: "gemini", scope: "user",
			prep: func(t *testing.T, home, project string) {
				// Gemini CLI starts no MCP server in a folder that is not trusted.
				writeJSON(t, filepath.Join(home, ".gemini", "trustedFolders.json"), map[string]string{project: "TRUST_FOLDER"})
			},
			health: func(t *testing.T, env []string, dir string) string {
				return runClient(t, env, dir, "node", clientBin(t, "@google/gemini-cli/bundle/gemini.js"), "mcp", "list")
			},
			connected: regexp.MustCompile(`(?m)fake: .*Connected`),
			failed:    regexp.MustCompile(`(?m)fake: .*Disconnected`),
		},
		{
			name: "codex", scope: "user",
			health: func(t *testing.T, env []string, dir string) string {
				return codexServerStatus(t, env, dir, clientBin(t, "@openai/codex-linux-*/vendor/*/bin/codex"))
			},
			connected: regexp.MustCompile(`"name":"fake"[^\n]*"serverInfo":\{"name":"fakecloudrun"`),
		},
		{
			name: "opencode", scope: "user",
			health: func(t *testing.T, env []string, dir string) string {
				return runClient(t, env, dir, clientBin(t, "opencode-linux-*/bin/opencode"), "mcp", "list")
			},
			connected: regexp.MustCompile(`✓ fake\S* +.*connected`),
		},
	}
}

// codexServerStatus asks Codex's app server (the protocol its IDE extension speaks) for
// mcpServerStatus/list, which starts every configured server and reports each.
func codexServerStatus(t *testing.T, env []string, dir, bin string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "app-server")
	cmd.Env, cmd.Dir, cmd.WaitDelay = env, dir, 5*time.Second
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	for _, m := range []string{
		`{"id":1,"method":"initialize","params":{"clientInfo":{"name":"make-test-clients","version":"1"}}}`,
		`{"method":"initialized"}`,
		`{"id":2,"method":"mcpServerStatus/list","params":{"detail":"toolsAndAuthOnly"}}`,
	} {
		fmt.Fprintln(stdin, m)
	}
	var all strings.Builder
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		all.WriteString(line + "\n")
		var msg struct {
			ID     *int            `json:"id"`
			Result json.RawMessage `json:"result"`
		}
		if json.Unmarshal([]byte(line), &msg) == nil && msg.ID != nil && *msg.ID == 2 {
			// One server per line, for the regexps.
			var res struct{ Data []json.RawMessage }
			_ = json.Unmarshal(msg.Result, &res)
			var out strings.Builder
			for _, d := range res.Data {
				out.Write(d)
				out.WriteString("\n")
			}
			t.Logf("codex mcpServerStatus/list:\n%s", out.String())
			return out.String() + all.String()
		}
	}
	t.Logf("codex app-server ended without an answer:\n%s", all.String())
	return all.String()
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// clientWorld is the fake Cloud Run and a user whose shell has credentials in its
// environment (GOOGLE_APPLICATION_CREDENTIALS to a key for the fake Google).
func clientWorld(t *testing.T) (e *env, userEnv []string, project string) {
	e = newEnv(t, envOpts{kind: fakegoogle.ServiceAccountKey})
	project = filepath.Join(e.setup.Home, "project")
	if err := os.MkdirAll(project, 0o755); err != nil {
		t.Fatal(err)
	}
	userEnv = append(append([]string{}, e.setup.Env...),
		"PATH="+filepath.Dir(mustLookPath(t, "node"))+":/usr/bin:/bin",
		// No update checks, telemetry or other traffic: the machine is offline.
		"DISABLE_AUTOUPDATER=1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_TELEMETRY=1",
		"OPENCODE_DISABLE_AUTOUPDATE=1", "OPENCODE_DISABLE_LSP_DOWNLOAD=1", "GEMINI_CLI_NO_RELAUNCH=1")
	return e, userEnv, project
}

func mustLookPath(t *testing.T, name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: %v", name, err)
	}
	return p
}

// installFor runs install-config as the user would, in the project directory.
func installFor(t *testing.T, userEnv []string, project string, c realClient, e *env, name string, extra ...string) {
	t.Helper()
	args := append([]string{"install-config", "--client", c.name, "--scope", c.scope, "--name", name, "--url", e.crun.URL()}, extra...)
	cmd := exec.Command(proxyBin, args...)
	cmd.Env, cmd.Dir = userEnv, project
	out, err := cmd.CombinedOutput()
	t.Logf("install-config %s:\n%s", strings.Join(args[1:], " "), out)
	if err != nil {
		t.Fatalf("install-config: %v", err)
	}
}

// The entry install-config writes connects in each client, through the built binary, to
// the fake Cloud Run; the user's credentials come from the shell's environment, which
// Gemini CLI and Codex do not pass on.
func TestClientsConnect(t *testing.T) {
	for _, c := range realClients() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e, userEnv, project := clientWorld(t)
			installFor(t, userEnv, project, c, e, "fake")
			if c.prep != nil {
				c.prep(t, e.setup.Home, project)
			}
			out := c.health(t, userEnv, project)
			if !c.connected.MatchString(out) {
				t.Errorf("%s does not show \"fake\" as connected (want %s)", c.name, c.connected)
			}
			if e.crun.Stats().ByRPCMethod["initialize"] == 0 {
				t.Errorf("the fake Cloud Run saw no initialize")
			}
		})
	}
}

// A server that cannot start (a credentials file that does not exist) shows why in the
// client's own health check, not only "connection closed".
func TestClientsShowStartupFailureReason(t *testing.T) {
	for _, c := range realClients() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e, userEnv, project := clientWorld(t)
			installFor(t, userEnv, project, c, e, "fake", "--env", "GOOGLE_APPLICATION_CREDENTIALS="+brokenKey)
			if c.prep != nil {
				c.prep(t, e.setup.Home, project)
			}
			out := c.health(t, userEnv, project)
			switch {
			case c.failed != nil:
				if !c.failed.MatchString(out) {
					t.Errorf("%s does not show \"fake\" as failed (want %s)", c.name, c.failed)
				}
			case !strings.Contains(out, brokenReason):
				t.Errorf("%s does not show the start-up failure's reason (%q)", c.name, brokenReason)
			}
		})
	}
}

// The "Next:" lines install-config prints are true: a Claude Code project server waits for
// approval, Gemini CLI starts no server in a folder it does not trust, and Codex reads no
// untrusted project's config.
func TestClientsNextStepIsTrue(t *testing.T) {
	cs := realClients()
	for _, tc := range []struct {
		c    realClient
		next string // in install-config's output
		want *regexp.Regexp
		// trust does what the Next: line says, after which the health check lists fake.
		trust func(t *testing.T, home, project string)
	}{
		{realClient{name: "claude-code", scope: "project", health: cs[0].health}, "approve", regexp.MustCompile(`(?m)^fake: .*Pending approval`), nil},
		{realClient{name: "gemini", scope: "user", health: cs[1].health}, "trust", regexp.MustCompile(`(?m)fake: .*Disabled`), nil},
		// Codex ignores an untrusted project's .codex/config.toml.
		{realClient{name: "codex", scope: "project", health: func(t *testing.T, env []string, dir string) string {
			return runClient(t, env, dir, clientBin(t, "@openai/codex-linux-*/vendor/*/bin/codex"), "mcp", "list")
		}}, "trust", regexp.MustCompile(`No MCP servers configured`), func(t *testing.T, home, project string) {
			trust := fmt.Sprintf("[projects.%q]\ntrust_level = \"trusted\"\n", project)
			if err := os.WriteFile(filepath.Join(home, ".codex", "config.toml"), []byte(trust), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.c.name+"/"+tc.c.scope, func(t *testing.T) {
			t.Parallel()
			e, userEnv, project := clientWorld(t)
			cmd := exec.Command(proxyBin, "install-config", "--client", tc.c.name, "--scope", tc.c.scope, "--name", "fake", "--url", e.crun.URL())
			cmd.Env, cmd.Dir = userEnv, project
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("install-config: %v\n%s", err, out)
			}
			next := regexp.MustCompile(`(?m)^Next: .*$`).FindString(string(out))
			if !strings.Contains(next, tc.next) {
				t.Errorf("Next line %q does not mention %q", next, tc.next)
			}
			if got := tc.c.health(t, userEnv, project); !tc.want.MatchString(got) {
				t.Errorf("%s does not show %s", tc.c.name, tc.want)
			}
			if tc.trust != nil {
				tc.trust(t, e.setup.Home, project)
				if got := tc.c.health(t, userEnv, project); !regexp.MustCompile(`(?m)^fake +`).MatchString(got) {
					t.Errorf("%s does not list fake once the project is trusted", tc.c.name)
				}
			}
		})
	}
}
