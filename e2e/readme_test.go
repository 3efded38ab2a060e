package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakecloudrun"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakegoogle"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// readmeBlock returns the fenced code block of ../README.md between the markers
// <!-- NAME:begin --> and <!-- NAME:end -->.
func readmeBlock(t *testing.T, name string) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- " + name + ":begin -->\\s*```[a-z]*\\n(.*?)```\\s*<!-- " + name + ":end -->")
	m := re.FindSubmatch(readme)
	if m == nil {
		t.Fatalf("README.md has no block %q", name)
	}
	return string(m[1])
}

// TestReadmeQuickStartRunsAsWritten runs the README's quick start against the fake Cloud Run,
// as a user who followed `gcloud auth application-default login` would, then starts the MCP
// client entry that install-config wrote, exactly as the client would, and completes a session
// through it.
func TestReadmeQuickStartRunsAsWritten(t *testing.T) {
	// The quick start names the service my-service in my-project, us-central1; the fake Admin
	// API serves it, with the user as its invoker. User ADC tokens carry the OAuth client id as
	// audience, which the fake service accepts as Cloud Run does for an invoker.
	const project, region, name = "my-project", "us-central1", "my-service"
	e := newEnv(t, envOpts{kind: fakegoogle.AuthorizedUserWellKnown,
		crun: fakecloudrun.Options{RunService: "projects/" + project + "/locations/" + region + "/services/" + name}})
	serviceURL := strings.Replace(e.crun.URL(), "127.0.0.1", "localhost", 1)
	e.google.PutRunService(fakegoogle.RunService{Project: project, Region: region, Name: name,
		URI: strings.TrimSuffix(serviceURL, "/mcp"), Invokers: []string{fakegoogle.MemberOf(e.setup.Principal)}})
	e.setup.Env = append(e.setup.Env, fakegoogle.RunEndpointEnv+"="+e.google.URL())
	gcloudProps := map[string]string{}

	block := readmeBlock(t, "quickstart")
	var script []string
	ranLogin := false
	for _, line := range strings.Split(block, "\n") {
		cmd := strings.TrimSpace(regexp.MustCompile(`\s+#.*$`).ReplaceAllString(line, ""))
		switch {
		case cmd == "":
		case cmd == "gcloud auth application-default login":
			// Interactive (a browser); newEnv already wrote the file it writes.
			ranLogin = true
		case strings.HasPrefix(cmd, "gcloud config set "):
			// What gcloud writes: the active configuration's properties file.
			f := strings.Fields(cmd)
			if len(f) != 5 {
				t.Fatalf("unexpected gcloud config set line: %q", cmd)
			}
			gcloudProps[f[3]] = f[4]
			writeGcloudConfig(t, e.setup.CloudSDKConfig, gcloudProps)
		case strings.HasPrefix(cmd, "mcp-cloudrun-proxy "):
			script = append(script, cmd)
		default:
			t.Fatalf("the quick start has a command this test cannot run; teach the test about it: %q", cmd)
		}
	}
	if !ranLogin || len(script) < 4 {
		t.Fatalf("quick start block lost its steps: %q", block)
	}

	bin := filepath.Join(e.dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(proxyBin, filepath.Join(bin, "mcp-cloudrun-proxy")); err != nil {
		t.Fatal(err)
	}
	// gcloudDir keeps the fake gcloud ahead of any real one: a real gcloud on this machine,
	// probed by --token-source auto, would rewrite the configuration the quick start set.
	runEnv := append(append([]string{}, e.setup.Env...), "PATH="+bin+":"+gcloudDir+":/usr/bin:/bin")
	for i, cmd := range script {
		full := strings.Join(script[:i+1], "\n")
		if !strings.HasPrefix(cmd, "mcp-cloudrun-proxy ") {
			continue
		}
		c := exec.Command("bash", "-euo", "pipefail", "-c", full)
		c.Env = runEnv
		c.Dir = e.dir
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		if err := c.Run(); err != nil {
			t.Fatalf("quick start step %q failed: %v\n%s", cmd, err, out.String())
		}
		checkNoLeak(t, e, out.String())
		if i == len(script)-1 && !strings.Contains(out.String(), serviceURL) {
			t.Errorf("list-config does not show the installed entry:\n%s", out.String())
		}
		if strings.HasPrefix(cmd, "mcp-cloudrun-proxy services") && !regexp.MustCompile(name+` +`+region+` +`+regexp.QuoteMeta(strings.TrimSuffix(serviceURL, "/mcp"))+` +all +yes`).MatchString(out.String()) {
			t.Errorf("services does not list %s as invocable:\n%s", name, out.String())
		}
	}

	// The file install-config wrote, read as Claude Desktop reads it (Linux location).
	cfgPath := filepath.Join(e.setup.Home, ".config", "Claude", "claude_desktop_config.json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatalf("install-config wrote no Claude Desktop config: %v", err)
	}
	var cfg struct {
		MCPServers map[string]struct {
			Command string            `json:"command"`
			Args    []string          `json:"args"`
			Env     map[string]string `json:"env"`
		} `json:"mcpServers"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("config is not JSON: %v\n%s", err, raw)
	}
	entry, ok := cfg.MCPServers[name]
	if !ok || len(cfg.MCPServers) != 1 {
		t.Fatalf("want one entry named after the service, got %s", raw)
	}
	if !slices.Equal(entry.Args, []string{"run", "--url", serviceURL}) {
		t.Errorf("entry args %q, want the resolved --url %s", entry.Args, serviceURL)
	}
	if !filepath.IsAbs(entry.Command) {
		t.Errorf("entry command %q is not an absolute path", entry.Command)
	}

	// Start it exactly as written and hold an MCP session through it.
	cmd := exec.Command(entry.Command, entry.Args...)
	cmd.Env = append([]string{}, e.setup.Env...)
	for k, v := range entry.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "claude-desktop-like", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: terminateAfter}, &mcp.ClientSessionOptions{ProtocolVersion: protocolVersion})
	if err != nil {
		t.Fatalf("connect through the installed entry: %v\nstderr:\n%s", err, stderr.String())
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "from the README"}})
	if err != nil {
		t.Fatalf("echo: %v\nstderr:\n%s", err, stderr.String())
	}
	if got := resultText(t, res); got != "from the README" {
		t.Errorf("echo returned %q", got)
	}
	if err := cs.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	checkNoLeak(t, e, stderr.String())
}

// TestReadmeClaudeDesktopExampleMatchesInstallConfig checks that the hand-written JSON in the
// README has the shape install-config writes: the same keys and the same run arguments.
func TestReadmeClaudeDesktopExampleMatchesInstallConfig(t *testing.T) {
	var doc struct {
		MCPServers map[string]struct {
			Command string   `json:"command"`
			Args    []string `json:"args"`
		} `json:"mcpServers"`
	}
	if err := json.Unmarshal([]byte(readmeBlock(t, "claude-desktop-config")), &doc); err != nil {
		t.Fatalf("the README's Claude Desktop JSON does not parse: %v", err)
	}
	for name, s := range doc.MCPServers {
		if len(s.Args) < 3 || s.Args[0] != "run" || s.Args[1] != "--url" {
			t.Errorf("entry %q: args %q, want run --url URL ...", name, s.Args)
		}
		if !filepath.IsAbs(s.Command) || filepath.Base(s.Command) != "mcp-cloudrun-proxy" {
			t.Errorf("entry %q: command %q, want an absolute path to mcp-cloudrun-proxy", name, s.Command)
		}
		out, err := exec.Command(proxyBin, "install-config", "--client", "claude-desktop", "--config", filepath.Join(t.TempDir(), "c.json"), "--dry-run", "--url", s.Args[2]).CombinedOutput()
		if err != nil {
			t.Fatalf("install-config --dry-run: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), `"`+name+`"`) {
			t.Errorf("install-config would name the entry differently than the README's %q:\n%s", name, out)
		}
	}
}

// writeGcloudConfig writes props (section/key -> value, e.g. run/region) as gcloud's default
// configuration under dir, as `gcloud config set` does.
func writeGcloudConfig(t *testing.T, dir string, props map[string]string) {
	t.Helper()
	sections := map[string][]string{}
	for k, v := range props {
		sec, key, ok := strings.Cut(k, "/")
		if !ok {
			sec, key = "core", k
		}
		sections[sec] = append(sections[sec], key+" = "+v)
	}
	var b strings.Builder
	for _, sec := range slices.Sorted(maps.Keys(sections)) {
		b.WriteString("[" + sec + "]\n" + strings.Join(sections[sec], "\n") + "\n\n")
	}
	cfg := filepath.Join(dir, "configurations")
	if err := os.MkdirAll(cfg, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg, "config_default"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}
