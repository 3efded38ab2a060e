package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/mcpclientcfg"
)

const configTestURL = "https://mysvc-abc123-uc.a.run.app/mcp"

// runConfigCLI runs the CLI in-process and returns exit code, stdout and stderr.
func runConfigCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := execute(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// isolateConfigEnv gives the test an empty HOME and clears the proxy's environment variables.
func isolateConfigEnv(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("CLAUDE_CONFIG_DIR", "")
	t.Setenv("CODEX_HOME", "")
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "MCP_CLOUDRUN_PROXY_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	return home
}

func configSelfPath(t *testing.T) string {
	t.Helper()
	exe, err := mcpclientcfg.ExecutablePath()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func readConfigEntry(t *testing.T, client mcpclientcfg.Client, path, name string) (mcpclientcfg.ServerEntry, bool) {
	t.Helper()
	loc, err := mcpclientcfg.Locate(mcpclientcfg.System{GOOS: "linux", Home: "/nonexistent"}, client, mcpclientcfg.ScopeUser)
	if err != nil {
		t.Fatal(err)
	}
	e, ok, err := mcpclientcfg.LookupEntry(loc.WithPath(path), name)
	if err != nil {
		t.Fatal(err)
	}
	return e, ok
}

func TestInstallConfigWritesRunFlagsGiven(t *testing.T) {
	isolateConfigEnv(t)
	for _, tc := range []struct {
		desc     string
		flags    []string
		wantArgs []string
		wantEnv  map[string]string
	}{
		{
			desc:     "url only",
			flags:    []string{"--url", configTestURL},
			wantArgs: []string{"run", "--url", configTestURL},
		},
		{
			desc: "every run flag",
			flags: []string{"--url", configTestURL, "--audience", "https://aud.example", "--token-source", "gcloud",
				"--impersonate-service-account", "sa@p.iam.gserviceaccount.com", "--log-level", "debug", "--refresh-margin", "30.5"},
			wantArgs: []string{"run", "--url", configTestURL, "--audience", "https://aud.example", "--token-source", "gcloud",
				"--impersonate-service-account", "sa@p.iam.gserviceaccount.com", "--log-level", "debug", "--refresh-margin", "30.5"},
		},
		{
			desc:     "defaults given explicitly are not written",
			flags:    []string{"--url", configTestURL, "--token-source", "auto", "--log-level", "info", "--refresh-margin", "60"},
			wantArgs: []string{"run", "--url", configTestURL},
		},
		{
			desc:     "env",
			flags:    []string{"--url", configTestURL, "--env", "A=1,2", "--env", "B="},
			wantArgs: []string{"run", "--url", configTestURL},
			wantEnv:  map[string]string{"A": "1,2", "B": ""},
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "sub", "claude_desktop_config.json")
			code, stdout, stderr := runConfigCLI(t, append([]string{"install-config", "--client", "claude-desktop", "--config", cfg}, tc.flags...)...)
			if code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			for _, want := range []string{`Added "mysvc" in Claude Desktop (user scope): ` + cfg, "Next: restart Claude Desktop"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			e, ok := readConfigEntry(t, mcpclientcfg.ClaudeDesktop, cfg, "mysvc")
			if !ok {
				t.Fatal("no entry written")
			}
			want := mcpclientcfg.ServerEntry{Name: "mysvc", Command: configSelfPath(t), Args: tc.wantArgs, Env: tc.wantEnv}
			if !reflect.DeepEqual(e, want) {
				t.Errorf("entry:\n got %#v\nwant %#v", e, want)
			}
		})
	}
}

func TestInstallConfigIdempotentDryRunRemove(t *testing.T) {
	isolateConfigEnv(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mcp.json")
	orig := "{\n  \"mcpServers\": {\n    \"other\": {\"command\": \"x\"}\n  },\n  \"keep\": [1,2]\n}\n"
	if err := os.WriteFile(cfg, []byte(orig), 0o640); err != nil {
		t.Fatal(err)
	}
	base := []string{"install-config", "--client", "cursor", "--config", cfg}

	// Dry run: a diff on stdout, nothing written.
	code, stdout, stderr := runConfigCLI(t, append(base, "--url", configTestURL, "--dry-run")...)
	if code != 0 {
		t.Fatalf("dry run: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"--- " + cfg, "+++ " + cfg, `+    "mysvc": {`, "Dry run: " + cfg + " not changed."} {
		if !strings.Contains(stdout, want) {
			t.Errorf("dry run stdout lacks %q:\n%s", want, stdout)
		}
	}
	assertConfigFile(t, cfg, orig, 0o640)
	if b := configBackups(t, cfg); len(b) != 0 {
		t.Errorf("dry run made a backup: %v", b)
	}

	// Install, then the same again: already up to date, nothing written.
	code, stdout, stderr = runConfigCLI(t, append(base, "--url", configTestURL)...)
	if code != 0 {
		t.Fatalf("install: exit %d: %s", code, stderr)
	}
	backups := configBackups(t, cfg)
	if len(backups) != 1 || !strings.Contains(stdout, "  previous content saved in "+backups[0]+" (a new backup for each change; older ones are kept)\n") {
		t.Fatalf("backups %v, stdout:\n%s", backups, stdout)
	}
	assertConfigFile(t, backups[0], orig, 0o640)
	installed, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = runConfigCLI(t, append(base, "--url", configTestURL)...)
	if code != 0 || !strings.Contains(stdout, `"mysvc" in Cursor (user scope): `+cfg+" is already up to date.") {
		t.Errorf("second install: exit %d, stdout:\n%s", code, stdout)
	}
	assertConfigFile(t, cfg, string(installed), 0o640)
	if b := configBackups(t, cfg); len(b) != 1 {
		t.Errorf("up-to-date run wrote a backup: %v", b)
	}

	// Remove needs no --url; the name is enough.
	code, stdout, stderr = runConfigCLI(t, append(base, "--remove", "--name", "mysvc")...)
	if code != 0 || !strings.Contains(stdout, `Removed "mysvc" from Cursor (user scope): `+cfg) {
		t.Fatalf("remove: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	assertConfigFile(t, cfg, orig, 0o640)
	// The install's backup (the original) is kept; the removal made a second one.
	if b := configBackups(t, cfg); len(b) != 2 || !slices.Contains(b, backups[0]) {
		t.Errorf("backups after remove: %v, want 2 including %s", b, backups[0])
	}
	assertConfigFile(t, backups[0], orig, 0o640)
	code, stdout, _ = runConfigCLI(t, append(base, "--remove", "--name", "mysvc")...)
	if code != 0 || !strings.Contains(stdout, "nothing to remove") {
		t.Errorf("second remove: exit %d, stdout:\n%s", code, stdout)
	}
}

// configBackups lists the backups of cfg, oldest first.
func configBackups(t *testing.T, cfg string) []string {
	t.Helper()
	b, err := filepath.Glob(cfg + ".bak.*")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func assertConfigFile(t *testing.T, path, want string, mode os.FileMode) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s:\n got %q\nwant %q", path, got, want)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != mode {
		t.Errorf("%s: mode %v, want %v", path, st.Mode().Perm(), mode)
	}
}

func TestInstallConfigErrors(t *testing.T) {
	isolateConfigEnv(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	badContent := "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\",,}\n  }\n}\n"
	if err := os.WriteFile(bad, []byte(badContent), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		desc       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"no url", []string{"install-config", "--client", "cursor"}, 2, "--url is required"},
		{"no client", []string{"install-config", "--url", configTestURL}, 2, "--client is required"},
		{"bad url", []string{"install-config", "--client", "cursor", "--url", "http://example.com/mcp"}, 2, "plain http is allowed only for loopback"},
		{"bad name", []string{"install-config", "--client", "cursor", "--url", configTestURL, "--name", "my svc"}, 2, `server name "my svc"`},
		{"bad env", []string{"install-config", "--client", "cursor", "--url", configTestURL, "--env", "NOEQUALS"}, 2, `--env "NOEQUALS": use KEY=VALUE`},
		{"remove without name", []string{"install-config", "--client", "cursor", "--remove"}, 2, "--remove needs --name"},
		{"scope not supported", []string{"install-config", "--client", "claude-desktop", "--scope", "local", "--url", configTestURL}, 1, `scope "local"`},
		{"all with config", []string{"install-config", "--client", "all", "--config", bad, "--url", configTestURL}, 2, "--config names one file"},
		{"all finds nothing", []string{"install-config", "--client", "all", "--url", configTestURL}, 1, "found no MCP client config"},
		{"malformed config", []string{"install-config", "--client", "claude-desktop", "--config", bad, "--url", configTestURL}, 1, bad + ":3:26: not valid JSON"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			code, _, stderr := runConfigCLI(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("exit %d (want %d), stderr lacks %q:\n%s", code, tc.wantCode, tc.wantStderr, stderr)
			}
		})
	}
	assertConfigFile(t, bad, badContent, 0o600)
}

func TestInstallConfigAllAndList(t *testing.T) {
	home := isolateConfigEnv(t)
	for _, d := range []string{".cursor", ".codex"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := runConfigCLI(t, "install-config", "--client", "all", "--url", configTestURL, "--name", "svc")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{`Added "svc" in Cursor`, `Added "svc" in Codex CLI`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if e, ok := readConfigEntry(t, mcpclientcfg.Codex, filepath.Join(home, ".codex", "config.toml"), "svc"); !ok || e.Command != configSelfPath(t) {
		t.Errorf("codex entry: %+v, found %v", e, ok)
	}
	if _, err := os.Stat(filepath.Join(home, ".config", "Claude")); !os.IsNotExist(err) {
		t.Errorf("--client all created Claude Desktop's config: %v", err)
	}

	for _, args := range [][]string{{"list-config"}, {"install-config", "--list"}} {
		code, stdout, stderr = runConfigCLI(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		for _, want := range []string{"CLIENT", "cursor  user   svc   " + configTestURL + "  ok", "codex   user   svc   " + configTestURL + "  ok", filepath.Join(home, ".codex", "config.toml")} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%v: stdout lacks %q:\n%s", args, want, stdout)
			}
		}
	}
}

func TestListConfigEmpty(t *testing.T) {
	isolateConfigEnv(t)
	code, stdout, _ := runConfigCLI(t, "list-config")
	if code != 0 || !strings.Contains(stdout, "No MCP client entries run mcp-cloudrun-proxy") {
		t.Errorf("exit %d, stdout:\n%s", code, stdout)
	}
}

// The install command's copy of the connection flags must match connectionFlags, except
// that --url is optional.
func TestOptionalConnectionFlagsMirrorConnectionFlags(t *testing.T) {
	want, got := reflect.TypeOf(connectionFlags{}), reflect.TypeOf(optionalConnectionFlags{})
	if want.NumField() != got.NumField() {
		t.Fatalf("connectionFlags has %d fields, optionalConnectionFlags %d: add the new run flag to install_config_cmd.go", want.NumField(), got.NumField())
	}
	for i := 0; i < want.NumField(); i++ {
		w, g := want.Field(i), got.Field(i)
		wantTag := strings.Replace(string(w.Tag), ` required:""`, "", 1)
		if w.Name != g.Name || w.Type != g.Type || wantTag != string(g.Tag) {
			t.Errorf("field %d: connectionFlags has %s %s `%s`, optionalConnectionFlags has %s %s `%s`", i, w.Name, w.Type, wantTag, g.Name, g.Type, g.Tag)
		}
	}
}

// runArgs must produce flags that `run` parses back to the same values.
func TestRunArgsRoundTrip(t *testing.T) {
	isolateConfigEnv(t)
	for _, cf := range []connectionFlags{
		{URL: configTestURL, TokenSource: "auto", LogLevel: "info", RefreshMargin: 60},
		{URL: configTestURL, Audience: "https://a", TokenSource: "google-auth", ImpersonateServiceAccount: "sa@p.iam.gserviceaccount.com", LogLevel: "warn", RefreshMargin: 0.25},
		{URL: configTestURL, TokenSource: "gcloud", LogLevel: "debug", RefreshMargin: 0},
	} {
		args := runArgs(cf)
		var parsed struct {
			connectionFlags
		}
		p, err := kong.New(&parsed)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Parse(args); err != nil {
			t.Fatalf("parsing %q: %v", args, err)
		}
		if !reflect.DeepEqual(parsed.connectionFlags, cf) {
			t.Errorf("runArgs(%+v) = %q, which parses to %+v", cf, args, parsed.connectionFlags)
		}
	}
	if got := runArgs(connectionFlags{URL: configTestURL, TokenSource: "auto", LogLevel: "info", RefreshMargin: 60}); !reflect.DeepEqual(got, []string{"--url", configTestURL}) {
		t.Errorf("defaults: runArgs = %q, want only --url", got)
	}
}

func TestFlagName(t *testing.T) {
	for in, want := range map[string]string{"URL": "url", "Audience": "audience", "TokenSource": "token-source",
		"ImpersonateServiceAccount": "impersonate-service-account", "LogLevel": "log-level", "RefreshMargin": "refresh-margin", "HTTPPort": "http-port"} {
		if got := flagName(in); got != want {
			t.Errorf("flagName(%q) = %q, want %q", in, got, want)
		}
	}
}

// A server of the same name that does not run the proxy is left alone unless --force.
func TestInstallConfigForeignEntryNeedsForce(t *testing.T) {
	isolateConfigEnv(t)
	cfg := filepath.Join(t.TempDir(), "mcp.json")
	orig := `{"mcpServers": {"mysvc": {"command": "npx", "args": ["-y", "@acme/mysvc-mcp"]}}}`
	if err := os.WriteFile(cfg, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"install-config", "--client", "cursor", "--config", cfg}
	for _, args := range [][]string{append(base, "--url", configTestURL), append(base, "--remove", "--name", "mysvc")} {
		code, _, stderr := runConfigCLI(t, args...)
		if code != 1 || !strings.Contains(stderr, `"mysvc"`) || !strings.Contains(stderr, `runs "npx"`) || !strings.Contains(stderr, "--force") {
			t.Errorf("%v: exit %d, stderr:\n%s", args, code, stderr)
		}
		assertConfigFile(t, cfg, orig, 0o600)
	}
	code, stdout, stderr := runConfigCLI(t, append(base, "--url", configTestURL, "--force")...)
	if code != 0 || !strings.Contains(stdout, `Updated "mysvc" in Cursor`) {
		t.Fatalf("--force: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if e, ok := readConfigEntry(t, mcpclientcfg.Cursor, cfg, "mysvc"); !ok || e.Command != configSelfPath(t) {
		t.Errorf("after --force: %+v, found %v", e, ok)
	}
}

// --env adds to the entry's env: variables from an earlier install (or added by hand) stay.
func TestInstallConfigEnvAddsToExisting(t *testing.T) {
	isolateConfigEnv(t)
	cfg := filepath.Join(t.TempDir(), "config.toml")
	base := []string{"install-config", "--client", "codex", "--config", cfg, "--url", configTestURL}
	for _, env := range []string{"A=1", "B=2", "A=3"} {
		if code, _, stderr := runConfigCLI(t, append(base, "--env", env)...); code != 0 {
			t.Fatalf("--env %s: exit %d: %s", env, code, stderr)
		}
	}
	e, ok := readConfigEntry(t, mcpclientcfg.Codex, cfg, "mysvc")
	if want := map[string]string{"A": "3", "B": "2"}; !ok || !reflect.DeepEqual(e.Env, want) {
		t.Errorf("env %v (found %v), want %v", e.Env, ok, want)
	}
}

// Run in the home directory, Cursor's and Gemini's project-scope files are the user-scope
// ones: list-config shows each entry once.
func TestListConfigShowsAFileOnce(t *testing.T) {
	home := isolateConfigEnv(t)
	for _, client := range []string{"cursor", "gemini"} {
		if code, _, stderr := runConfigCLI(t, "install-config", "--client", client, "--url", configTestURL); code != 0 {
			t.Fatalf("install %s: exit %d: %s", client, code, stderr)
		}
	}
	code, stdout, stderr := runConfigCLI(t, "list-config", "--project", home)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "cursor  user ") || !strings.HasPrefix(lines[2], "gemini  user ") {
		t.Errorf("want a header and one user-scope line per client:\n%s", stdout)
	}
}
