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
	t.Setenv("XDG_STATE_HOME", "")
	// No credentials nor gcloud from the developer's shell get recorded into entries.
	for _, k := range credentialEnvVars {
		t.Setenv(k, "")
	}
	t.Setenv("PATH", t.TempDir())
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
	es, err := mcpclientcfg.ReadEntries(loc.WithPath(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Name == name {
			return e, true
		}
	}
	return mcpclientcfg.ServerEntry{}, false
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
			for _, want := range []string{`Added "mysvc" in Claude Desktop (user scope): ` + cfg, "Next: quit Claude Desktop completely"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			// This test binary runs from the Go build cache's temporary directory.
			if !strings.Contains(stderr, "is in a temporary directory, so the entry breaks") || !strings.Contains(stderr, "make install") {
				t.Errorf("no warning about the temporary binary; stderr:\n%s", stderr)
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
	if len(backups) != 1 || !strings.Contains(stdout, "  previous content saved in "+backups[0]+" (the newest 5 backups per file are kept)\n") {
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

// configBackups lists the backups of cfg in the state directory, oldest first.
func configBackups(t *testing.T, cfg string) []string {
	t.Helper()
	b, err := filepath.Glob(filepath.Join(os.Getenv("HOME"), ".local", "state", "mcp-cloudrun-proxy", "backups", strings.TrimPrefix(filepath.Base(cfg), ".")+"-*"))
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

// The run flags written into an entry parse back, with `run`, to the values given.
func TestRunArgsRoundTrip(t *testing.T) {
	isolateConfigEnv(t)
	for i, flags := range [][]string{
		{"--url", configTestURL, "--token-source", "auto", "--log-level", "info", "--refresh-margin", "60"},
		{"--url", configTestURL, "--audience", "https://a", "--token-source", "google-auth", "--impersonate-service-account", "sa@p.iam.gserviceaccount.com", "--log-level", "warn", "--refresh-margin", "0.25"},
		{"--url", configTestURL, "--token-source", "gcloud", "--log-level", "debug", "--refresh-margin", "0"},
	} {
		cfg := filepath.Join(t.TempDir(), "mcp.json")
		if code, _, stderr := runConfigCLI(t, append([]string{"install-config", "--client", "cursor", "--config", cfg}, flags...)...); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		e, _ := readConfigEntry(t, mcpclientcfg.Cursor, cfg, "mysvc")
		var given, written struct {
			connectionFlags
		}
		for _, p := range []struct {
			into *struct{ connectionFlags }
			args []string
		}{{&given, flags}, {&written, e.Args[1:]}} {
			k, err := kong.New(p.into)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := k.Parse(p.args); err != nil {
				t.Fatalf("parsing %q: %v", p.args, err)
			}
		}
		if !reflect.DeepEqual(given, written) {
			t.Errorf("case %d: entry args %q parse to %+v, want %+v", i, e.Args, written, given)
		}
		if i == 0 && !reflect.DeepEqual(e.Args, []string{"run", "--url", configTestURL}) {
			t.Errorf("defaults written: %q", e.Args)
		}
	}
}

// What the credentials need from the environment goes into the entry, so that it works in
// clients that pass on little of it; --env still overrides.
func TestInstallConfigRecordsCredentialEnv(t *testing.T) {
	home := isolateConfigEnv(t)
	bin := filepath.Join(home, "google-cloud-sdk", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "gcloud"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(filepath.ListSeparator)+"/usr/bin")
	t.Chdir(home)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "key.json") // relative: made absolute
	t.Setenv("CLOUDSDK_CONFIG", filepath.Join(home, "gc"))
	t.Setenv("CLOUDSDK_ACTIVE_CONFIG_NAME", "work")
	cfg := filepath.Join(home, "settings.json")
	for _, tc := range []struct {
		flags []string
		want  map[string]string
	}{
		{[]string{"--token-source", "gcloud"}, map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": filepath.Join(home, "key.json"),
			"CLOUDSDK_CONFIG": filepath.Join(home, "gc"), "CLOUDSDK_ACTIVE_CONFIG_NAME": "work", "PATH": bin + string(filepath.ListSeparator) + os.Getenv("PATH")}},
		{[]string{"--token-source", "google-auth", "--env", "CLOUDSDK_CONFIG=/x"}, map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": filepath.Join(home, "key.json"),
			"CLOUDSDK_CONFIG": "/x", "CLOUDSDK_ACTIVE_CONFIG_NAME": "work"}},
	} {
		_ = os.Remove(cfg)
		code, stdout, stderr := runConfigCLI(t, append([]string{"install-config", "--client", "gemini", "--config", cfg, "--url", configTestURL}, tc.flags...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if !strings.Contains(stdout, "Recorded from this shell in the entry's env") || !strings.Contains(stdout, "GOOGLE_APPLICATION_CREDENTIALS") {
			t.Errorf("stdout does not say what was recorded:\n%s", stdout)
		}
		if e, _ := readConfigEntry(t, mcpclientcfg.Gemini, cfg, "mysvc"); !reflect.DeepEqual(e.Env, tc.want) {
			t.Errorf("%v: env\n got %v\nwant %v", tc.flags, e.Env, tc.want)
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

// --client all writes every client whose config directory exists, the new ones included.
func TestInstallConfigAllCoversEveryClient(t *testing.T) {
	home := isolateConfigEnv(t)
	sys := mcpclientcfg.System{GOOS: "linux", Home: home, Getenv: os.Getenv}
	var want []string
	for _, c := range mcpclientcfg.Clients() {
		loc, err := mcpclientcfg.Locate(sys, c, mcpclientcfg.ScopeUser)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(loc.Path) != home {
			if err := os.MkdirAll(filepath.Dir(loc.Path), 0o755); err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(loc.Path, []byte("{}"), 0o600); err != nil { // ~/.claude.json
			t.Fatal(err)
		}
		want = append(want, loc.Path)
	}
	code, stdout, stderr := runConfigCLI(t, "install-config", "--client", "all", "--url", configTestURL)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for i, c := range mcpclientcfg.Clients() {
		if e, ok := readConfigEntry(t, c, want[i], "mysvc"); !ok || e.Command != configSelfPath(t) {
			t.Errorf("%s: no entry in %s (%+v); stdout:\n%s", c, want[i], e, stdout)
		}
	}
	if len(want) < 12 {
		t.Errorf("only %d clients", len(want))
	}
}
