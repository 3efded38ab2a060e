package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakegoogle"
)

// withEnv returns env with each KEY=VALUE of set replacing (or adding) that key; a value of
// "-" removes the key.
func withEnv(env []string, set ...string) []string {
	out := append([]string(nil), env...)
	for _, kv := range set {
		key, val, _ := strings.Cut(kv, "=")
		out = slicesDeleteKey(out, key)
		if val != "-" {
			out = append(out, kv)
		}
	}
	return out
}

func slicesDeleteKey(env []string, key string) []string {
	out := env[:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// A client shows only "connection closed" for a server that exits before its first answer.
// Whatever keeps run from relaying is therefore answered to the client's initialize, in the
// words stderr gets once, and run exits 1 when the client closes stdin.
func TestStartupFailuresReachTheClient(t *testing.T) {
	t.Parallel()
	emptyPath := t.TempDir()
	tests := []struct {
		name  string
		kind  fakegoogle.Kind
		args  []string
		env   func(e *env, dir string) []string
		wants string
	}{
		{name: "no credentials", args: []string{"--token-source", "google-auth"}, wants: "gcloud auth application-default login",
			env: func(e *env, dir string) []string {
				return withEnv(e.setup.Env, "GOOGLE_APPLICATION_CREDENTIALS=-", "NO_GCE_CHECK=true", "GCE_METADATA_HOST=-", "PATH="+emptyPath)
			}},
		{name: "broken key file", args: []string{"--token-source", "google-auth"}, wants: "malformed",
			env: func(e *env, dir string) []string {
				key := filepath.Join(dir, "broken.json")
				if err := os.WriteFile(key, []byte(`{"type": "service_account", "private_key": `), 0o600); err != nil {
					t.Fatal(err)
				}
				return withEnv(e.setup.Env, "GOOGLE_APPLICATION_CREDENTIALS="+key)
			}},
		{name: "gcloud missing", kind: fakegoogle.Gcloud, wants: "gcloud",
			env: func(e *env, dir string) []string { return withEnv(e.setup.Env, "PATH="+emptyPath) }},
		{name: "token endpoint refuses", args: []string{"--token-source", "google-auth"}, wants: "token source",
			env: func(e *env, dir string) []string {
				key, err := e.google.WriteServiceAccountKey(dir, fakegoogle.ServiceAccountEmail)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := os.ReadFile(key)
				b = []byte(strings.ReplaceAll(string(b), e.google.TokenURL(), "http://127.0.0.1:1/token"))
				if err := os.WriteFile(key, b, 0o600); err != nil {
					t.Fatal(err)
				}
				return withEnv(e.setup.Env, "GOOGLE_APPLICATION_CREDENTIALS="+key)
			}},
		{name: "a URL that cannot work", args: []string{"--url", "http://mcp.example.com/mcp"}, wants: "plain http is allowed only for loopback hosts",
			env: func(e *env, dir string) []string { return e.setup.Env }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{kind: tc.kind})
			cmd := e.proxyCmd(tc.args, nil)
			cmd.Env = tc.env(e, t.TempDir())
			took, stderr, err := connectExpectingFailure(t, cmd)
			if err == nil {
				t.Fatalf("initialize succeeded\nstderr:\n%s", tail(stderr))
			}
			if took > 20*time.Second {
				t.Errorf("the client waited %v for its answer", took)
			}
			if !strings.Contains(err.Error(), tc.wants) {
				t.Errorf("the client saw %q, want the reason (%q)\nstderr:\n%s", err, tc.wants, tail(stderr))
			}
			if line := firstLineWith(stderr, tc.wants); line == "" || !strings.Contains(err.Error(), strings.TrimSpace(line)) {
				t.Errorf("stderr line %q is not what the client was told (%q)", line, err)
			}
			if code := cmd.ProcessState.ExitCode(); code != 1 {
				t.Errorf("exit code %d, want 1\nstderr:\n%s", code, tail(stderr))
			}
			if n := len(e.crun.Stats().Requests); n != 0 {
				t.Errorf("Cloud Run got %d requests although nothing could work", n)
			}
			checkNoLeak(t, e, stderr)
		})
	}
}

// firstLineWith returns the first line of s that contains sub and is not a structured log
// line (the one-line reason is written as it is, not as a log record).
func firstLineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "time=") {
			return l
		}
	}
	return ""
}

// A gcloud that hangs must not hold the client's initialize past its 30-second connection
// timeout: the first request is answered with what is wrong within 20 seconds.
func TestHangingGcloudIsAnsweredInTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{kind: fakegoogle.Gcloud})
	e.editGcloudConfig(t, func(cfg *fakegoogle.GcloudConfig) { cfg.DelayMillis = 120_000 })
	took, stderr, err := connectExpectingFailure(t, e.proxyCmd(nil, nil))
	if err == nil {
		t.Fatal("initialize succeeded with gcloud hanging")
	}
	if took > 25*time.Second {
		t.Errorf("initialize answered after %v; clients give up after 30 s", took.Round(time.Second))
	}
	if !strings.Contains(err.Error(), "no ID token within") || !strings.Contains(err.Error(), "gcloud") {
		t.Errorf("the client saw %q, want the reason", err)
	}
	checkNoLeak(t, e, stderr)
}
