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
		{desc: "bad token source", args: []string{"run", "--url", "https://a.run.app/mcp", "--token-source", "magic"}, wantCode: 2, wantErr: "--token-source"},
		{desc: "bad log level", args: []string{"run", "--url", "https://a.run.app/mcp", "--log-level", "trace"}, wantCode: 2, wantErr: "--log-level"},
		{desc: "refresh margin NaN", args: []string{"debug", "--url", "https://a.run.app/mcp", "--refresh-margin", "NaN"}, wantCode: 2, wantErr: "--refresh-margin NaN: must be a number of seconds between 0 and 3600"},
		{desc: "refresh margin Inf", args: []string{"debug", "--url", "https://a.run.app/mcp", "--refresh-margin", "Inf"}, wantCode: 2, wantErr: "--refresh-margin +Inf: must be a number"},
		{desc: "refresh margin -Inf", args: []string{"debug", "--url", "https://a.run.app/mcp", "--refresh-margin=-Inf"}, wantCode: 2, wantErr: "--refresh-margin -Inf: must be a number"},
		{desc: "refresh margin huge", args: []string{"debug", "--url", "https://a.run.app/mcp", "--refresh-margin", "1e300"}, wantCode: 2, wantErr: "--refresh-margin 1e+300: must be at most 3600 seconds"},
		{desc: "refresh margin over an hour", args: []string{"debug", "--url", "https://a.run.app/mcp", "--refresh-margin", "3600.5"}, wantCode: 2, wantErr: "must be at most 3600 seconds"},
		{desc: "refresh margin from the environment", args: []string{"debug", "--url", "https://a.run.app/mcp"}, env: map[string]string{"MCP_CLOUDRUN_PROXY_REFRESH_MARGIN": "NaN"}, wantCode: 2, wantErr: "--refresh-margin NaN"},
		{desc: "url with user and password", args: []string{"debug", "--url", "https://alice:hunter2@a.run.app/mcp"}, wantCode: 2, wantErr: `--url "https://alice:xxxxx@a.run.app/mcp": user info (user:password@) is not allowed`},
		{desc: "url with user only", args: []string{"debug", "--url", "https://alice@a.run.app/mcp"}, wantCode: 2, wantErr: "user info (user:password@) is not allowed"},
		{desc: "unparsable url with a password", args: []string{"debug", "--url", "https://alice:hunter2@a.run.app:port/mcp"}, wantCode: 2, wantErr: "--url (not shown, it may hold a password): invalid port"},
		{desc: "url with password from the environment", args: []string{"debug"}, env: map[string]string{"MCP_CLOUDRUN_PROXY_URL": "http://bob:hunter2@127.0.0.1:8080/mcp"}, wantCode: 2, wantErr: "user info (user:password@) is not allowed"},
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
			if strings.Contains(stderr.String(), "hunter2") {
				t.Errorf("stderr repeats the password:\n%s", stderr.String())
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
		{desc: "no url", args: []string{"run"}, wantErr: "--url"},
		{desc: "plain http to a remote host", args: []string{"run", "--url", "http://example.com/mcp"}, wantErr: "plain http is allowed only for loopback hosts"},
		{desc: "unknown scheme", args: []string{"run", "--url", "ftp://example.com/mcp"}, wantErr: "scheme must be https"},
		{desc: "negative refresh margin", args: []string{"run", "--url", "https://a.run.app/mcp", "--refresh-margin=-1"}, wantErr: "must not be negative"},
		{desc: "url from the environment is validated too", args: []string{"run"}, env: map[string]string{"MCP_CLOUDRUN_PROXY_URL": "http://example.com"}, wantErr: "plain http"},
		{desc: "refresh margin NaN", args: []string{"run", "--url", "https://a.run.app/mcp", "--refresh-margin", "NaN"}, wantErr: "--refresh-margin NaN: must be a number of seconds between 0 and 3600"},
		{desc: "url with a password", args: []string{"run", "--url", "https://alice:hunter2@a.run.app/mcp"}, wantErr: "user info (user:password@) is not allowed"},
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
			if strings.Contains(stdout.String()+stderr.String(), "hunter2") {
				t.Errorf("a password from --url was repeated:\n%s\n%s", stdout.String(), stderr.String())
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

func TestRefreshMarginBounds(t *testing.T) {
	for _, m := range []float64{0, 0.5, 60, 1800, 3600} {
		if err := validRefreshMargin(m); err != nil {
			t.Errorf("--refresh-margin %v refused: %v", m, err)
		}
	}
	for _, m := range []float64{-0.001, 3600.001, 86400, 1e300} {
		if err := validRefreshMargin(m); err == nil {
			t.Errorf("--refresh-margin %v accepted", m)
		}
	}
}
