package mcpclientcfg

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var testEntry = ServerEntry{
	Name:    "mysvc",
	Command: "/home/u/.nix-profile/bin/mcp-cloudrun-proxy",
	Args:    []string{"run", "--url", "https://mysvc-abc123-uc.a.run.app/mcp", "--token-source", "gcloud"},
}

var testEntryEnv = ServerEntry{
	Name:    testEntry.Name,
	Command: testEntry.Command,
	Args:    testEntry.Args,
	Env:     map[string]string{"CLOUDSDK_CORE_ACCOUNT": "me@example.com", "HTTPS_PROXY": "http://127.0.0.1:3128"},
}

// testOwn recognises the proxy's entries, as install-config does.
var testOwn = Ownership{Program: "mcp-cloudrun-proxy"}

func testLocation(t *testing.T, c Client, s Scope) Location {
	t.Helper()
	loc, err := Locate(System{GOOS: "linux", Home: "/home/u", ProjectDir: "/home/u/proj"}, c, s)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// goldenCases: each dir in testdata/ holds input.EXT (absent for a fresh file) and the
// expected result want.EXT; go test -update rewrites want.EXT.
var goldenCases = []struct {
	dir    string
	client Client
	scope  Scope
	ext    string
	remove bool
	entry  ServerEntry
}{
	{dir: "claude-desktop-fresh", client: ClaudeDesktop, ext: "json", entry: testEntryEnv},
	{dir: "claude-desktop-others", client: ClaudeDesktop, ext: "json", entry: testEntry},
	{dir: "claude-desktop-update", client: ClaudeDesktop, ext: "json", entry: testEntry},
	{dir: "claude-desktop-remove", client: ClaudeDesktop, ext: "json", remove: true},
	{dir: "claude-desktop-crlf", client: ClaudeDesktop, ext: "json", entry: testEntry},
	{dir: "claude-code-user", client: ClaudeCode, scope: ScopeUser, ext: "json", entry: testEntry},
	{dir: "claude-code-local", client: ClaudeCode, scope: ScopeLocal, ext: "json", entry: testEntry},
	{dir: "claude-code-local-new-project", client: ClaudeCode, scope: ScopeLocal, ext: "json", entry: testEntry},
	// On Windows: the project is known under another spelling, which is reused.
	{dir: "claude-code-local-windows", client: ClaudeCode, scope: ScopeLocal, ext: "json", entry: testEntry},
	{dir: "claude-code-project-fresh", client: ClaudeCode, scope: ScopeProject, ext: "json", entry: testEntry},
	{dir: "cursor-fresh", client: Cursor, ext: "json", entry: testEntry},
	{dir: "cursor-compact", client: Cursor, ext: "json", entry: testEntryEnv},
	{dir: "vscode-fresh", client: VSCode, scope: ScopeProject, ext: "jsonc", entry: testEntry},
	{dir: "vscode-comments", client: VSCode, ext: "jsonc", entry: testEntryEnv},
	{dir: "vscode-remove", client: VSCode, ext: "jsonc", remove: true},
	{dir: "windsurf-fresh", client: Windsurf, ext: "json", entry: testEntry},
	{dir: "gemini-fresh", client: Gemini, ext: "json", entry: testEntry},
	{dir: "gemini-settings", client: Gemini, ext: "json", entry: testEntryEnv},
	{dir: "codex-fresh", client: Codex, ext: "toml", entry: testEntryEnv},
	{dir: "codex-tables", client: Codex, ext: "toml", entry: testEntryEnv},
	{dir: "codex-update", client: Codex, ext: "toml", entry: testEntry},
	{dir: "codex-remove", client: Codex, ext: "toml", remove: true},
	// Comments and other keys inside our table stay where they are.
	{dir: "codex-update-comments", client: Codex, ext: "toml", entry: testEntryEnv},
	// An HTTP entry replaced (install-config --force): its transport keys go, others stay.
	{dir: "claude-desktop-http-to-stdio", client: ClaudeDesktop, ext: "json", entry: testEntry},
	{dir: "vscode-http-to-stdio", client: VSCode, ext: "jsonc", entry: testEntry},
	{dir: "codex-http-to-stdio", client: Codex, ext: "toml", entry: testEntry},
	{dir: "codex-project-fresh", client: Codex, scope: ScopeProject, ext: "toml", entry: testEntry},
	// opencode: "type": "local", the command line as one array, "environment"; "enabled"
	// and other keys of an existing entry are kept.
	{dir: "opencode-fresh", client: Opencode, scope: ScopeProject, ext: "json", entry: testEntryEnv},
	{dir: "opencode-existing", client: Opencode, ext: "json", entry: testEntryEnv},
	{dir: "opencode-remove", client: Opencode, ext: "json", remove: true},
	{dir: "qwen-settings", client: Qwen, ext: "json", entry: testEntryEnv},
	{dir: "zed-settings", client: Zed, ext: "json", entry: testEntry},
	{dir: "lmstudio-fresh", client: LMStudio, ext: "json", entry: testEntryEnv},
	{dir: "amazonq-others", client: AmazonQ, scope: ScopeProject, ext: "json", entry: testEntry},
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.dir, func(t *testing.T) {
			if tc.dir == "claude-code-local-new-project" {
				// A project Claude Code has not seen yet.
				loc := testLocation(t, tc.client, tc.scope)
				loc.KeyPath = []string{"projects", "/home/u/new project", "mcpServers"}
				runGolden(t, tc.dir, tc.ext, loc, tc.remove, tc.entry)
				return
			}
			if tc.dir == "claude-code-local-windows" {
				loc, err := Locate(System{GOOS: "windows", Home: `C:\Users\u`, ProjectDir: `C:\Users\u\proj`}, tc.client, tc.scope)
				if err != nil {
					t.Fatal(err)
				}
				runGolden(t, tc.dir, tc.ext, loc, tc.remove, tc.entry)
				return
			}
			runGolden(t, tc.dir, tc.ext, testLocation(t, tc.client, tc.scope), tc.remove, tc.entry)
		})
	}
}

func runGolden(t *testing.T, dir, ext string, loc Location, remove bool, entry ServerEntry) {
	t.Helper()
	in, err := os.ReadFile(filepath.Join("testdata", dir, "input."+ext))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var got []byte
	if remove {
		var found bool
		got, found, err = removeBytes(loc, in, "mysvc")
		if err != nil {
			t.Fatalf("remove: %v", err)
		}
		if !found {
			t.Fatal("remove: entry not found")
		}
	} else if got, err = installBytes(loc, in, entry); err != nil {
		t.Fatalf("install: %v", err)
	}
	wantPath := filepath.Join("testdata", dir, "want."+ext)
	if *update {
		if err := os.MkdirAll(filepath.Dir(wantPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(wantPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(wantPath)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", wantPath, diff)
	}
	// Idempotence: the same operation again changes nothing.
	var again []byte
	if remove {
		var found bool
		again, found, err = removeBytes(loc, got, "mysvc")
		if found {
			t.Error("second remove found the entry again")
		}
	} else {
		again, err = installBytes(loc, got, entry)
	}
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if !bytes.Equal(again, got) {
		t.Errorf("second run changed the file again (-first +second):\n%s", cmp.Diff(string(got), string(again)))
	}
	// What we wrote reads back as the entry.
	if !remove {
		e, ok, err := lookup(loc, got, entry.Name)
		if err != nil || !ok {
			t.Fatalf("lookup after install: %v, found %v", err, ok)
		}
		if diff := cmp.Diff(entry.CommandLine(), e.CommandLine()); diff != "" {
			t.Errorf("command line read back (-want +got):\n%s", diff)
		}
	}
}
