package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// An entry that names the proxy by bare name, as the README's `claude mcp add ... --
// mcp-cloudrun-proxy run ...` writes it, is found on PATH as the client finds it; npx and
// uvx entries are ours too.
func TestListConfigResolvesCommandsOnPath(t *testing.T) {
	home := isolateConfigEnv(t)
	bin := filepath.Join(home, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	claude := `{"mcpServers": {
  "bare": {"type": "stdio", "command": "mcp-cloudrun-proxy", "args": ["run", "--url", "https://bare-abc-uc.a.run.app/mcp"], "env": {}},
  "viaNpx": {"type": "stdio", "command": "npx", "args": ["-y", "mcp-cloudrun-proxy@1.2.3", "run", "--url", "https://npx-abc-uc.a.run.app/mcp"]},
  "viaUvx": {"type": "stdio", "command": "uvx", "args": ["mcp-cloudrun-proxy@1.2.3", "run", "--url", "https://uvx-abc-uc.a.run.app/mcp"]},
  "other": {"type": "stdio", "command": "npx", "args": ["-y", "mcp-remote", "https://x"]}
}}`
	if err := os.WriteFile(filepath.Join(home, ".claude.json"), []byte(claude), 0o600); err != nil {
		t.Fatal(err)
	}
	list := func() string {
		t.Helper()
		code, stdout, stderr := runConfigCLI(t, "list-config", "--client", "claude-code", "--project", home)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		return stdout
	}
	for _, want := range []string{`bare +https://bare-abc-uc.a.run.app/mcp +mcp-cloudrun-proxy not on PATH`, `viaNpx +\S+ +npx not on PATH`, `viaUvx +\S+ +uvx not on PATH`} {
		if out := list(); !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("nothing on PATH: want %q in:\n%s", want, out)
		}
	}
	// The running binary and npx on PATH.
	if err := os.Symlink(configSelfPath(t), filepath.Join(bin, "mcp-cloudrun-proxy")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "npx"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := list()
	for _, want := range []string{`bare +https://bare-abc-uc.a.run.app/mcp +ok `, `viaNpx +https://npx-abc-uc.a.run.app/mcp +ok \(npx\)`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("want %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "other") {
		t.Errorf("an npx entry of another package is listed:\n%s", out)
	}
}

// Without HOME the user configs cannot be found: list-config says so instead of "no entries".
func TestListConfigExplainsUnsetHome(t *testing.T) {
	isolateConfigEnv(t)
	t.Setenv("HOME", "")
	os.Unsetenv("HOME")
	code, stdout, stderr := runConfigCLI(t, "list-config")
	if code != 1 || !strings.Contains(stderr, "HOME is not set") || !strings.Contains(stderr, "--config") || strings.Contains(stdout, "No MCP client entries") {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}
