package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestExecuteRejectsBadRunFlags(t *testing.T) {
	tests := []struct {
		desc     string
		args     []string
		env      map[string]string
		wantCode int
		wantErr  string
	}{
		{desc: "no url", args: []string{"run"}, wantCode: 2, wantErr: "--url"},
		{desc: "bad token source", args: []string{"run", "--url", "https://a.run.app/mcp", "--token-source", "magic"}, wantCode: 2, wantErr: "--token-source"},
		{desc: "bad log level", args: []string{"run", "--url", "https://a.run.app/mcp", "--log-level", "trace"}, wantCode: 2, wantErr: "--log-level"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			code := execute(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantErr, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout must carry nothing but MCP messages, got %q", stdout.String())
			}
		})
	}
}

// A client shows only "connection closed" for a server that exits before answering, so run
// answers the client's requests with what is wrong, says it once on stderr, and exits 1 when
// stdin ends.
func TestRunAnswersBadFlagsInBand(t *testing.T) {
	tests := []struct {
		desc    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{desc: "plain http to a remote host", args: []string{"run", "--url", "http://example.com/mcp"}, wantErr: "plain http is allowed only for loopback hosts"},
		{desc: "unknown scheme", args: []string{"run", "--url", "ftp://example.com/mcp"}, wantErr: "scheme must be https"},
		{desc: "negative refresh margin", args: []string{"run", "--url", "https://a.run.app/mcp", "--refresh-margin=-1"}, wantErr: "must not be negative"},
		{desc: "url from the environment is validated too", args: []string{"run"}, env: map[string]string{"MCP_CLOUDRUN_PROXY_URL": "http://example.com"}, wantErr: "plain http"},
	}
	const stdin = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}` + "\n" +
		`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n" +
		`{"jsonrpc":"2.0","id":"two","method":"tools/list"}` + "\n"
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			code := execute(context.Background(), tc.args, strings.NewReader(stdin), &stdout, &stderr)
			if code != 1 {
				t.Errorf("exit code %d, want 1; stderr:\n%s", code, stderr.String())
			}
			if n := strings.Count(stderr.String(), tc.wantErr); n != 1 {
				t.Errorf("stderr says %q %d times, want once:\n%s", tc.wantErr, n, stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			if len(lines) != 2 {
				t.Fatalf("stdout has %d lines, want one answer per request:\n%s", len(lines), stdout.String())
			}
			for i, id := range []string{`"id":1,`, `"id":"two",`} {
				if !strings.Contains(lines[i], id) || !strings.Contains(lines[i], `"code":-32603`) || !strings.Contains(lines[i], tc.wantErr) {
					t.Errorf("answer %d = %s, want an error for %s saying %q", i, lines[i], id, tc.wantErr)
				}
			}
		})
	}
}

func TestDefaultAudienceIsTheURLOrigin(t *testing.T) {
	tests := map[string]string{
		"https://svc-xyz.a.run.app/mcp":        "https://svc-xyz.a.run.app",
		"https://svc-xyz.a.run.app:8443/x/mcp": "https://svc-xyz.a.run.app:8443",
		"http://127.0.0.1:8080/mcp?x=1":        "http://127.0.0.1:8080",
	}
	for in, want := range tests {
		f := connectionFlags{URL: in}
		if got := f.audience(); got != want {
			t.Errorf("audience(%q) = %q, want %q", in, got, want)
		}
	}
	f := connectionFlags{URL: "https://svc-xyz.a.run.app/mcp", Audience: "custom-aud"}
	if got := f.audience(); got != "custom-aud" {
		t.Errorf("--audience not honoured: %q", got)
	}
}

func TestVersionFlagPrintsVersionCommitAndGo(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := execute(context.Background(), []string{"--version"}, strings.NewReader(""), &stdout, &stderr)
	out := stdout.String()
	if code != 0 || !strings.Contains(out, "mcp-cloudrun-proxy dev (commit unknown, go1.") {
		t.Errorf("code %d, output %q", code, out)
	}
}
