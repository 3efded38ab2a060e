package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Paths of the binaries TestMain builds once for every test.
var (
	proxyBin  string // mcp-cloudrun-proxy, built from the root module
	gcloudDir string // holds fakegcloud, installed as "gcloud"
)

// helpers are parts the test binary plays, instead of running tests, when a test's child
// process starts it with E2E_HELPER set to the part's name (the conformance suite starts it
// as its MCP client, for one).
var helpers = map[string]func() int{}

func TestMain(m *testing.M) {
	if h := helpers[os.Getenv("E2E_HELPER")]; h != nil {
		os.Exit(h())
	}
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "e2e-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	proxyBin = filepath.Join(dir, "mcp-cloudrun-proxy")
	gcloudDir = filepath.Join(dir, "gcloudbin")
	// E2E_PROXY_BIN runs the suite against a prebuilt binary (e.g. one with a behaviour
	// disabled, to check that a test catches it).
	prebuilt := os.Getenv("E2E_PROXY_BIN")
	// E2E_RACE=1 builds the proxy with the race detector too (slower, finds races in the relay).
	args := []string{"build", "-o", proxyBin}
	if os.Getenv("E2E_RACE") == "1" {
		args = append(args, "-race")
	}
	builds := []struct {
		dir  string
		args []string
	}{
		{"..", append(args, ".")},
		{".", []string{"build", "-o", filepath.Join(gcloudDir, "gcloud"), "./cmd/fakegcloud"}},
	}
	if prebuilt != "" {
		proxyBin = prebuilt
		builds = builds[1:]
	}
	for _, b := range builds {
		cmd := exec.Command("go", b.args...)
		cmd.Dir = b.dir
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: go %v in %s: %v\n", b.args, b.dir, err)
			return 1
		}
	}
	return m.Run()
}
