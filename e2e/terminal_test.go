//go:build linux

package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Started by hand in a terminal, run says once what it is for and how to check a connection
// instead (script(1) gives it a terminal as stdin).
func TestRunInATerminalSaysWhatItIsFor(t *testing.T) {
	t.Parallel()
	script, err := exec.LookPath("script")
	if err != nil {
		t.Fatalf("script(1) from util-linux is needed for a terminal: %v", err)
	}
	e := newEnv(t, envOpts{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	line := strings.Join(append([]string{proxyBin, "run", "--url", e.crun.URL()}, e.setup.Args...), " ")
	cmd := exec.CommandContext(ctx, script, "-qec", line, "/dev/null") // stdin /dev/null: the terminal sees EOF
	cmd.Env = e.setup.Env
	out, _ := cmd.CombinedOutput()
	const want = "is meant to be started by an MCP client; to check the connection by hand, run: mcp-cloudrun-proxy debug"
	if n := strings.Count(string(out), want); n != 1 {
		t.Errorf("the terminal hint appears %d times, want once:\n%s", n, out)
	}
	checkNoLeak(t, e, string(out))
}
