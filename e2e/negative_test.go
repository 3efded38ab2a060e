package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakecloudrun"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakegoogle"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestGcloudLoggedOut: with --token-source gcloud and no active gcloud account the user is
// told to run `gcloud auth login`, whether the proxy refuses to start or fails the first
// request; nothing reaches Cloud Run without a token.
func TestGcloudLoggedOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{kind: fakegoogle.Gcloud})
	e.editGcloudConfig(t, func(cfg *fakegoogle.GcloudConfig) { cfg.Account = "" })
	cmd := e.proxyCmd(nil, nil)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: terminateAfter}, &mcp.ClientSessionOptions{ProtocolVersion: protocolVersion})
	msg := ""
	if err == nil {
		_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "x"}})
		cs.Close()
		if err == nil {
			t.Fatal("a call succeeded with gcloud logged out")
		}
	}
	msg = err.Error() + "\n" + stderr.String()
	if !strings.Contains(msg, "gcloud auth login") {
		t.Errorf("neither the error nor stderr tells the user to run `gcloud auth login`:\n%s", tail(msg))
	}
	if n := len(e.crun.Stats().Authorizations); n != 0 {
		t.Errorf("Cloud Run received %d tokens with gcloud logged out", n)
	}
	checkNoLeak(t, e, stderr.String())
}

// TestClientIDAudienceRejected: a service that refuses user tokens (aud = OAuth client id)
// yields an error that names the audience problem, not just "403".
func TestClientIDAudienceRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{kind: fakegoogle.AuthorizedUser, crun: fakecloudrun.Options{RejectClientIDAudiences: true}})
	cmd := e.proxyCmd(nil, nil)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: terminateAfter}, &mcp.ClientSessionOptions{ProtocolVersion: protocolVersion})
	if err == nil {
		cs.Close()
		t.Fatal("initialize succeeded although Cloud Run rejects the token's audience")
	}
	if !strings.Contains(err.Error(), "audience") {
		t.Errorf("error %q does not mention the audience", err)
	}
	checkNoLeak(t, e, stderr.String())
}

// TestVersionAndHelp: --version and run --help exit 0 and print to stderr or stdout without
// needing credentials.
func TestVersionAndHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--version"}, {"run", "--help"}} {
		out, err := exec.Command(proxyBin, args...).CombinedOutput()
		if err != nil {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
		if len(out) == 0 {
			t.Errorf("%v printed nothing", args)
		}
	}
}

// TestGcloudTokensCached: gcloud is slow (here 300 ms a call, about 1 s for real), so the
// proxy runs it once and reuses the token until it nears expiry.
func TestGcloudTokensCached(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{kind: fakegoogle.Gcloud})
	e.editGcloudConfig(t, func(cfg *fakegoogle.GcloudConfig) { cfg.DelayMillis = 300 })
	p := e.startProxy(t, proxyOpts{})
	for i := range 10 {
		if got := p.mustText(t, "echo", map[string]any{"text": fmt.Sprint(i)}); got != fmt.Sprint(i) {
			t.Errorf("echo = %q", got)
		}
	}
	b, err := os.ReadFile(filepath.Join(e.setup.CloudSDKConfig, "fakegcloud.calls"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "print-identity-token"); n < 1 || n > 2 {
		t.Errorf("gcloud auth print-identity-token ran %d times for 10 calls, want 1 or 2 (cached by exp)\ncalls:\n%s", n, b)
	}
}
