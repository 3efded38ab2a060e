package mcpclientcfg

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Install locations of the npm and PyPI packages, laid out as npx, uvx, pipx, npm -g and
// uv tool install lay them out, in a fake home directory.
func TestPackageRunnerLaunch(t *testing.T) {
	home := t.TempDir()
	const bin = "mcp-cloudrun-proxy"
	for _, tc := range []struct {
		desc, path, version string
		want                []string // nil: not a runner cache
		runner              string
	}{
		{"npx cache", ".npm/_npx/3b1e7d0c5a1f2e4d/node_modules/@mcp-cloudrun-proxy/linux-x64/bin/" + bin, "v1.4.0",
			[]string{"npx", "-y", "mcp-cloudrun-proxy@1.4.0"}, "npx"},
		{"npx cache, Windows layout", "AppData/Local/npm-cache/_npx/9f2a/node_modules/@mcp-cloudrun-proxy/win32-x64/bin/" + bin + ".exe", "1.4.0",
			[]string{"npx", "-y", "mcp-cloudrun-proxy@1.4.0"}, "npx"},
		{"uvx cache", ".cache/uv/archive-v0/Xk3Jd9aPq/bin/" + bin, "1.4.0-rc.1",
			[]string{"uvx", "mcp-cloudrun-proxy@1.4.0-rc.1"}, "uvx"},
		{"uvx cache, Windows layout", "AppData/Local/uv/cache/archive-v0/Xk3Jd9aPq/Scripts/" + bin + ".exe", "1.4.0",
			[]string{"uvx", "mcp-cloudrun-proxy@1.4.0"}, "uvx"},
		{"pipx run cache", ".local/share/pipx/.cache/5e1f0a/bin/" + bin, "1.4.0",
			[]string{"pipx", "run", "--spec", "mcp-cloudrun-proxy==1.4.0", "mcp-cloudrun-proxy"}, "pipx"},
		{"npx cache, untagged build", ".npm/_npx/3b1e/node_modules/@mcp-cloudrun-proxy/linux-x64/bin/" + bin, "v1.4.0-3-gabc1234", nil, "npx"},
		{"npm install -g", "usr/lib/node_modules/@mcp-cloudrun-proxy/linux-x64/bin/" + bin, "1.4.0", nil, ""},
		{"uv tool install", ".local/share/uv/tools/mcp-cloudrun-proxy/bin/" + bin, "1.4.0", nil, ""},
		{"pipx install", ".local/share/pipx/venvs/mcp-cloudrun-proxy/bin/" + bin, "1.4.0", nil, ""},
		{"make install", ".local/bin/" + bin, "1.4.0", nil, ""},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			exe := filepath.Join(home, filepath.FromSlash(tc.path))
			writeFile(t, exe, "#!/bin/sh\n", 0o755)
			l, runner, ok := PackageRunnerLaunch(exe, "mcp-cloudrun-proxy", tc.version)
			if runner != tc.runner || ok != (tc.want != nil) {
				t.Fatalf("runner %q ok %v, want %q %v", runner, ok, tc.runner, tc.want != nil)
			}
			if !ok {
				return
			}
			got := append([]string{l.Command}, l.Args...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("launch (-want +got):\n%s", diff)
			}
			// list-config and install-config recognise the entry as ours.
			e := ServerEntry{Name: "s", Command: l.Command, Args: append(l.Args, "run", "--url", "https://x/mcp")}
			if !testOwn.Owns(e) {
				t.Errorf("Owns(%v) = false", e.CommandLine())
			}
		})
	}
}

func TestOwnsRunnerEntries(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		args []string
		want bool
	}{
		{"npx", []string{"-y", "mcp-cloudrun-proxy@latest", "run"}, true},
		{"npx.cmd", []string{"mcp-cloudrun-proxy", "run"}, true},
		{`C:\Program Files\nodejs\npx.cmd`, []string{"-y", "mcp-cloudrun-proxy@1.0.0", "run"}, true},
		{"uvx", []string{"mcp-cloudrun-proxy==1.0.0", "run"}, true},
		{"npx", []string{"-y", "mcp-remote", "https://x"}, false},
		{"npx", []string{"-y", "@scope/mcp-cloudrun-proxy@1", "run"}, false},
		{"uvx", []string{"--from", "x", "y"}, false},
	} {
		if got := testOwn.Owns(ServerEntry{Command: tc.cmd, Args: tc.args}); got != tc.want {
			t.Errorf("Owns(%s %v) = %v, want %v", tc.cmd, tc.args, got, tc.want)
		}
	}
}

func TestVolatileReason(t *testing.T) {
	root := t.TempDir()
	if got := VolatileReason(filepath.Join(root, "bin", "x")); got != "is in a temporary directory" {
		t.Errorf("temp dir: %q", got)
	}
	wd, err := os.Getwd() // this package's directory, in the repository's checkout
	if err != nil {
		t.Fatal(err)
	}
	if got := VolatileReason(filepath.Join(wd, "..", "bin", "mcp-cloudrun-proxy")); got == "" || got[:20] != "is in a build tree (" {
		t.Errorf("build tree: %q", got)
	}
	if got := VolatileReason("/usr/local/bin/mcp-cloudrun-proxy"); got != "" {
		t.Errorf("/usr/local/bin: %q", got)
	}
}
