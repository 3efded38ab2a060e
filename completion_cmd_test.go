package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// completionCases are command lines (the last word being completed) and candidates every
// shell must offer for them.
var completionCases = []struct {
	line string
	want []string
}{
	{line: "mcp-cloudrun-proxy ", want: []string{"run", "debug", "install-config", "list-config", "completion", "version", "help"}},
	{line: "mcp-cloudrun-proxy run --token-source ", want: []string{"auto", "google-auth", "gcloud"}},
	{line: "mcp-cloudrun-proxy completion ", want: []string{"bash", "zsh", "fish"}},
	{line: "mcp-cloudrun-proxy install-config --client ", want: []string{"claude-desktop", "claude-code", "cursor", "vscode", "all"}},
	{line: "mcp-cloudrun-proxy debug --js", want: []string{"--json"}},
}

// completionScript writes `mcp-cloudrun-proxy completion SHELL` into a temporary file.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	code, stdout, stderr := runCLI(t, "completion", shell)
	if code != 0 || stdout == "" {
		t.Fatalf("completion %s: exit %d, stderr:\n%s", shell, code, stderr)
	}
	path := filepath.Join(t.TempDir(), "completion."+shell)
	if err := os.WriteFile(path, []byte(stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// shellOrSkip finds a shell; CI installs zsh and fish (.ci/run), so a skip there is a bug.
func shellOrSkip(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (apt-get install %s); its completion script is untested here", name, name)
	}
	return p
}

// checkCandidates fails unless every wanted candidate is among the shell's output words.
func checkCandidates(t *testing.T, shell, line, out string, want []string) {
	t.Helper()
	got := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			got[f[0]] = true
		}
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("%s completes %q without %q; it offered:\n%s", shell, line, w, out)
		}
	}
}

func TestCompletionBash(t *testing.T) {
	bash := shellOrSkip(t, "bash")
	script := completionScript(t, "bash")
	for _, tc := range completionCases {
		// COMP_WORDS as bash splits the line; an empty last word when it ends in a space.
		words := strings.Split(tc.line, " ")
		prog := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _mcp_cloudrun_proxy; printf '%s\n' "${COMPREPLY[@]}"`
		out, err := exec.Command(bash, append([]string{"--norc", "-c", prog, "bash", script}, words...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		checkCandidates(t, "bash", tc.line, string(out), tc.want)
	}
}

func TestCompletionFish(t *testing.T) {
	fish := shellOrSkip(t, "fish")
	script := completionScript(t, "fish")
	for _, tc := range completionCases {
		cmd := exec.Command(fish, "--no-config", "-c", `source $argv[1]; complete -C"$argv[2]"`, script, tc.line)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("fish: %v\n%s", err, out)
		}
		checkCandidates(t, "fish", tc.line, string(out), tc.want)
	}
}

// TestCompletionZsh types each line and TAB into an interactive zsh in a pty
// (testdata/zsh-capture.zsh) and reads what compadd was given.
func TestCompletionZsh(t *testing.T) {
	zsh := shellOrSkip(t, "zsh")
	script := completionScript(t, "zsh")
	capture, err := filepath.Abs("testdata/zsh-capture.zsh")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(zsh, "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
	args := []string{"-f", capture, script}
	for _, tc := range completionCases {
		args = append(args, tc.line)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, zsh, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("zsh completing: %v\n%s", err, out)
	}
	// The output is "== LINE" then that line's candidates, for each line in order.
	sections := strings.Split(strings.ReplaceAll(string(out), "\r", ""), "== ")
	if len(sections) != len(completionCases)+1 {
		t.Fatalf("zsh answered for %d lines, want %d:\n%s", len(sections)-1, len(completionCases), out)
	}
	for i, tc := range completionCases {
		_, cands, _ := strings.Cut(sections[i+1], "\n")
		checkCandidates(t, "zsh", tc.line, cands, tc.want)
	}
}
