package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Run from npx's or uvx's cache (as `npx -y mcp-cloudrun-proxy@1.2.3 install-config ...`
// does), install-config writes the pinned runner command, not the cache path, and
// list-config lists that entry as ours.
func TestInstallConfigFromARunnerCache(t *testing.T) {
	home := t.TempDir()
	for _, tc := range []struct {
		cache string
		want  []string
	}{
		{".npm/_npx/5f3a9c1e2b7d4e60/node_modules/@mcp-cloudrun-proxy/linux-x64/bin", []string{"npx", "-y", "mcp-cloudrun-proxy@1.2.3"}},
		{".cache/uv/archive-v0/Hk2aPq9xZ/bin", []string{"uvx", "mcp-cloudrun-proxy@1.2.3"}},
	} {
		t.Run(tc.want[0], func(t *testing.T) {
			exe := filepath.Join(home, tc.cache, "mcp-cloudrun-proxy")
			build := exec.Command("go", "build", "-ldflags", "-X main.version=v1.2.3", "-o", exe, ".")
			build.Dir = ".."
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			cfg := filepath.Join(t.TempDir(), "claude_desktop_config.json")
			env := []string{"HOME=" + home, "PATH=/usr/bin:/bin"}
			run := func(args ...string) string {
				t.Helper()
				cmd := exec.Command(exe, args...)
				cmd.Env = env
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("%v: %v\n%s", args, err, out)
				}
				return string(out)
			}
			out := run("install-config", "--client", "claude-desktop", "--config", cfg, "--url", "https://mysvc-abc123-uc.a.run.app/mcp")
			want := append(slices.Clone(tc.want), "run", "--url", "https://mysvc-abc123-uc.a.run.app/mcp")
			if !strings.Contains(out, "runs: "+strings.Join(want, " ")+"\n") {
				t.Errorf("install-config output:\n%s", out)
			}
			b, err := os.ReadFile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), tc.cache) {
				t.Errorf("the cache path was written:\n%s", b)
			}
			list := run("list-config", "--client", "claude-desktop", "--config", cfg)
			if !strings.Contains(list, "mysvc") || !strings.Contains(list, "https://mysvc-abc123-uc.a.run.app/mcp") {
				t.Errorf("list-config does not list the entry:\n%s", list)
			}
		})
	}
}
