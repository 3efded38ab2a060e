package main

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// runCLI executes the CLI in-process and returns exit code, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := execute(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestFrontDoor(t *testing.T) {
	version := "mcp-cloudrun-proxy dev (commit unknown, " + runtime.Version() + ")\n"
	tests := []struct {
		desc       string
		args       []string
		wantCode   int
		wantStdout []string // substrings; nil means stdout must be empty
		wantStderr []string
	}{
		{desc: "bare invocation prints usage on stderr", args: nil, wantCode: 2,
			wantStderr: []string{"Usage: mcp-cloudrun-proxy <command>", "\n  run", "\n  completion <shell>", "Examples:\n"}},
		{desc: "help prints usage on stdout", args: []string{"help"}, wantCode: 0,
			wantStdout: []string{"Usage: mcp-cloudrun-proxy <command>", "\n  install-config [flags]", "Examples:\n  mcp-cloudrun-proxy debug --url"}},
		{desc: "help COMMAND is COMMAND --help", args: []string{"help", "run"}, wantCode: 0,
			wantStdout: []string{"Usage: mcp-cloudrun-proxy run", "--token-source=", "Examples:\n"}},
		{desc: "help of an unknown command", args: []string{"help", "nope"}, wantCode: 2,
			wantStderr: []string{"help nope:", "run `mcp-cloudrun-proxy help`"}},
		{desc: "-h", args: []string{"-h"}, wantCode: 0, wantStdout: []string{"Usage: mcp-cloudrun-proxy <command>"}},
		{desc: "version", args: []string{"version"}, wantCode: 0, wantStdout: []string{version}},
		{desc: "-v", args: []string{"-v"}, wantCode: 0, wantStdout: []string{version}},
		{desc: "--version", args: []string{"--version"}, wantCode: 0, wantStdout: []string{version}},
		{desc: "unknown command", args: []string{"runn"}, wantCode: 2, wantStderr: []string{"unexpected argument runn"}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, stdout, stderr)
			}
			if tc.wantStdout == nil && stdout != "" {
				t.Errorf("stdout must stay empty, got:\n%s", stdout)
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// TestEveryCommandHasExamples walks the command tree, so a command added later without
// examples fails here.
func TestEveryCommandHasExamples(t *testing.T) {
	parser, err := kong.New(&cli{}, kong.Vars{"version": versionString(), "clients": clientNames()})
	if err != nil {
		t.Fatal(err)
	}
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		for _, c := range n.Children {
			if c.Type != kong.CommandNode || c.Hidden {
				continue
			}
			path := commandPath(c)
			args := append(strings.Fields(path), "--help")
			code, stdout, stderr := runCLI(t, args...)
			want := "\n  mcp-cloudrun-proxy " + path
			_, ex, found := strings.Cut(stdout, "\nExamples:\n")
			if code != 0 || !found || !strings.Contains("\n"+ex, want) {
				t.Errorf("%v: exit %d, stdout lacks %q (add it to commandExamples in help_cmd.go):\n%s%s", args, code, want, stdout, stderr)
			}
			walk(c)
		}
	}
	walk(parser.Model.Node)
}

func TestVersionSaysTheCommitOnce(t *testing.T) {
	tests := []struct{ version, commit, want string }{
		{"v1.2.3", "0123abc", "mcp-cloudrun-proxy v1.2.3 (commit 0123abc, " + runtime.Version() + ")"},
		{"a4860dd", "a4860dd", "mcp-cloudrun-proxy a4860dd (" + runtime.Version() + ")"},
		{"a4860dd-dirty", "a4860dd", "mcp-cloudrun-proxy a4860dd-dirty (" + runtime.Version() + ")"},
		{"v0.1.0-3-ga4860dd", "a4860dd", "mcp-cloudrun-proxy v0.1.0-3-ga4860dd (" + runtime.Version() + ")"},
	}
	for _, tc := range tests {
		if got := versionLine(tc.version, tc.commit); got != tc.want {
			t.Errorf("version %q commit %q: %q, want %q", tc.version, tc.commit, got, tc.want)
		}
	}
}
