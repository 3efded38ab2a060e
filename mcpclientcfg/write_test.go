package mcpclientcfg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dirNames lists a directory, to catch stray temporary files.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestMalformedInputIsLeftUnchanged(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		client  Client
		content string
		want    string // in the error
	}{
		{"json trailing comma", ClaudeDesktop, "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\"},\n  }\n}\n", ":4:3: not valid JSON"},
		{"json comment", ClaudeCode, "{\n  // no comments in JSON\n  \"a\": 1\n}\n", ":2:3: not valid JSON"},
		{"json truncated", ClaudeDesktop, "{\n  \"mcpServers\": {\n", ":2:18: not valid JSON"},
		{"json not an object", ClaudeDesktop, "[1, 2]\n", ":1:1: not valid JSON: the top level is not an object"},
		{"jsonc unterminated", VSCode, "{\n  // comment\n  \"servers\": {\n    \"a\": [1, 2\n  }\n}\n", ":5:3: not valid JSON with comments"},
		{"toml duplicate table", Codex, "[mcp_servers.a]\ncommand = \"x\"\n\n[mcp_servers.a]\ncommand = \"y\"\n", ":4:2: not valid TOML"},
		{"toml bad value", Codex, "model = \"o4\"\n[tui]\nnotifications = tru\n", ":3:17: not valid TOML"},
		{"servers not an object", Cursor, "{\"mcpServers\": [\"x\"]}", `"mcpServers" is not an object`},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			dir := t.TempDir()
			loc, err := Locate(System{GOOS: "linux", Home: dir, ProjectDir: dir}, tc.client, ScopeUser)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, loc.Path, tc.content, 0o644)
			before := dirNames(t, filepath.Dir(loc.Path))
			_, err = PlanInstall(loc, testEntry, testOwn)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("PlanInstall error %v, want one containing %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), loc.Path) && !strings.Contains(err.Error(), loc.Path) {
				t.Errorf("error %q does not name the file", err)
			}
			if _, err := PlanRemove(loc, "a", testOwn); err == nil {
				t.Error("PlanRemove on a malformed file: no error")
			}
			if got := readFile(t, loc.Path); got != tc.content {
				t.Errorf("file changed:\n%s", got)
			}
			if diff := cmp.Diff(before, dirNames(t, filepath.Dir(loc.Path))); diff != "" {
				t.Errorf("files in the directory changed (-before +after):\n%s", diff)
			}
		})
	}
}

func TestApplyBackupModeAndIdempotence(t *testing.T) {
	dir := t.TempDir()
	loc := testLocation(t, ClaudeDesktop, ScopeUser).WithPath(filepath.Join(dir, "claude_desktop_config.json"))
	orig := "{\n  \"mcpServers\": {}\n}\n"
	writeFile(t, loc.Path, orig, 0o640)

	c, err := PlanInstall(loc, testEntry, testOwn)
	if err != nil {
		t.Fatal(err)
	}
	if c.UpToDate() || c.Found {
		t.Fatalf("UpToDate %v Found %v before install", c.UpToDate(), c.Found)
	}
	// Planning writes nothing: this is what --dry-run relies on.
	if got := readFile(t, loc.Path); got != orig {
		t.Fatalf("PlanInstall wrote the file:\n%s", got)
	}
	if !strings.Contains(c.Diff(), "+    \"mysvc\": {\n") || !strings.HasPrefix(c.Diff(), "--- "+loc.Path+"\n+++ "+loc.Path+"\n@@ -1,3 +1,14 @@\n") {
		t.Errorf("diff:\n%s", c.Diff())
	}
	state := t.TempDir()
	res, err := Writer{StateDir: state, now: fixedNow}.Apply(c)
	if err != nil {
		t.Fatal(err)
	}
	// The backup is in the state directory, named after the file and the time.
	if filepath.Dir(res.Backup) != filepath.Join(state, "backups") || !strings.HasPrefix(filepath.Base(res.Backup), "claude_desktop_config.json-") ||
		!strings.HasSuffix(res.Backup, ".20261125T095200.000Z") || res.Created {
		t.Errorf("result %+v", res)
	}
	if got := readFile(t, res.Backup); got != orig {
		t.Errorf("backup:\n%s", got)
	}
	for _, p := range []string{loc.Path, res.Backup} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v, want 0640", p, st.Mode().Perm())
		}
	}
	if got := readFile(t, loc.Path); got != string(c.New) {
		t.Errorf("written:\n%s", got)
	}
	if diff := cmp.Diff([]string{"claude_desktop_config.json"}, dirNames(t, dir)); diff != "" {
		t.Errorf("directory (-want +got):\n%s", diff)
	}

	// Again: up to date, nothing written.
	if err := os.Remove(res.Backup); err != nil {
		t.Fatal(err)
	}
	c2, err := PlanInstall(loc, testEntry, testOwn)
	if err != nil {
		t.Fatal(err)
	}
	if !c2.UpToDate() || !c2.Found || c2.Diff() != "" {
		t.Fatalf("second plan: UpToDate %v Found %v diff %q", c2.UpToDate(), c2.Found, c2.Diff())
	}
	if _, err := (Writer{rename: failRename}).Apply(c2); err != nil {
		t.Fatalf("applying an up-to-date change: %v", err)
	}
	if diff := cmp.Diff([]string{"claude_desktop_config.json"}, dirNames(t, dir)); diff != "" {
		t.Errorf("directory after an up-to-date apply (-want +got):\n%s", diff)
	}

	// Remove restores the original bytes.
	c3, err := PlanRemove(loc, "mysvc", testOwn)
	if err != nil {
		t.Fatal(err)
	}
	if !c3.Found {
		t.Fatal("remove: not found")
	}
	if _, err := (Writer{}).Apply(c3); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, loc.Path); got != "{\n  \"mcpServers\": {}\n}\n" {
		t.Errorf("after remove:\n%s", got)
	}
}

// fixedNow is the clock of backups' names in tests.
func fixedNow() time.Time { return time.Date(2026, 11, 25, 9, 52, 0, 0, time.UTC) }

// Every write keeps the content it replaces in a backup of its own, even two within the
// same millisecond, and only the newest keepBackups per file are kept: backups never
// pile up.
func TestApplyKeepsTheNewestBackups(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	loc := testLocation(t, Cursor, ScopeUser).WithPath(filepath.Join(dir, "mcp.json"))
	other := testLocation(t, Cursor, ScopeProject).WithPath(filepath.Join(dir, "sub", "mcp.json"))
	writeFile(t, loc.Path, `{"mcpServers": {}}`+"\n", 0o600)
	writeFile(t, other.Path, `{"mcpServers": {}}`+"\n", 0o600)
	clock := fixedNow()
	w := Writer{StateDir: state, keepBackups: 3, now: func() time.Time { return clock }}
	install := func(l Location, i int) (before string, res Result) {
		before = readFile(t, l.Path)
		e := testEntry
		e.Args = append(slices.Clone(e.Args), fmt.Sprint(i))
		c, err := PlanInstall(l, e, testOwn)
		if err != nil {
			t.Fatal(err)
		}
		if res, err = w.Apply(c); err != nil {
			t.Fatal(err)
		}
		return before, res
	}
	install(other, 0)
	var befores, backups []string
	for i := range 6 {
		if i == 4 {
			clock = clock.Add(time.Second)
		}
		b, res := install(loc, i)
		befores, backups = append(befores, b), append(backups, res.Backup)
	}
	if !strings.HasSuffix(backups[1], "Z-2") {
		t.Errorf("second backup in the same millisecond: %s", backups[1])
	}
	var kept []string
	for i, b := range backups {
		if got, err := os.ReadFile(b); err == nil {
			kept = append(kept, b)
			if string(got) != befores[i] {
				t.Errorf("%s:\n%s\nwant the content before write %d:\n%s", b, got, i+1, befores[i])
			}
		}
	}
	if diff := cmp.Diff(backups[3:], kept); diff != "" {
		t.Errorf("kept backups (-want the newest 3 +got):\n%s", diff)
	}
	if n := len(dirNames(t, filepath.Join(state, "backups"))); n != 4 {
		t.Errorf("%d backups in all, want 3 of mcp.json and 1 of sub/mcp.json", n)
	}
}

func failRename(oldpath, newpath string) error { return errors.New("simulated crash before rename") }

func TestCrashBeforeRenameLeavesOriginal(t *testing.T) {
	for _, tc := range []struct {
		desc     string
		existing bool
	}{{"existing file", true}, {"new file", false}} {
		t.Run(tc.desc, func(t *testing.T) {
			dir := t.TempDir()
			loc := testLocation(t, Codex, ScopeUser).WithPath(filepath.Join(dir, "config.toml"))
			orig := "model = \"o4-mini\"\n"
			if tc.existing {
				writeFile(t, loc.Path, orig, 0o600)
			}
			c, err := PlanInstall(loc, testEntry, testOwn)
			if err != nil {
				t.Fatal(err)
			}
			renames := 0
			w := Writer{now: fixedNow, rename: func(oldpath, newpath string) error {
				renames++
				if newpath == loc.Path {
					return failRename(oldpath, newpath)
				}
				return os.Rename(oldpath, newpath)
			}}
			if _, err := w.Apply(c); err == nil || !strings.Contains(err.Error(), "simulated crash") {
				t.Fatalf("Apply error %v, want the rename failure", err)
			}
			want := []string{"config.toml"}
			if tc.existing {
				if got := readFile(t, loc.Path); got != orig {
					t.Errorf("original changed:\n%s", got)
				}
			} else {
				want = nil
			}
			if diff := cmp.Diff(want, dirNames(t, dir)); diff != "" {
				t.Errorf("directory (-want +got), temporary files must be cleaned up:\n%s", diff)
			}
		})
	}
}

func TestApplyRefusesConcurrentChange(t *testing.T) {
	dir := t.TempDir()
	loc := testLocation(t, ClaudeCode, ScopeUser).WithPath(filepath.Join(dir, ".claude.json"))
	writeFile(t, loc.Path, "{\"numStartups\": 1}\n", 0o600)
	c, err := PlanInstall(loc, testEntry, testOwn)
	if err != nil {
		t.Fatal(err)
	}
	// Claude Code rewrites its file meanwhile.
	writeFile(t, loc.Path, "{\"numStartups\": 2}\n", 0o600)
	if _, err := (Writer{}).Apply(c); err == nil || !strings.Contains(err.Error(), "changed since it was read") {
		t.Fatalf("Apply error %v, want a concurrent-change refusal", err)
	}
	if got := readFile(t, loc.Path); got != "{\"numStartups\": 2}\n" {
		t.Errorf("file:\n%s", got)
	}
}

func TestApplyCreatesDirectoriesAndFollowsSymlinks(t *testing.T) {
	dir := t.TempDir()
	loc := testLocation(t, Gemini, ScopeUser).WithPath(filepath.Join(dir, "a", "b", "settings.json"))
	c, err := PlanInstall(loc, testEntry, testOwn)
	if err != nil {
		t.Fatal(err)
	}
	res, err := (Writer{}).Apply(c)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Backup != "" {
		t.Errorf("result %+v", res)
	}
	st, err := os.Stat(loc.Path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("new file mode %v, want 0600", st.Mode().Perm())
	}
	// A new project file is meant to be committed: 0644, as Claude Code creates .mcp.json.
	ploc := testLocation(t, ClaudeCode, ScopeProject).WithPath(filepath.Join(dir, "proj", ".mcp.json"))
	if c, err = PlanInstall(ploc, testEntry, testOwn); err != nil {
		t.Fatal(err)
	}
	if _, err := (Writer{}).Apply(c); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(ploc.Path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("new project file: %v %v, want mode 0644", st.Mode(), err)
	}

	// A config kept in a dotfiles repository and symlinked: the target is edited, the link kept.
	target := filepath.Join(dir, "dotfiles", "mcp.json")
	writeFile(t, target, "{}\n", 0o644)
	linkPath := filepath.Join(dir, "home", ".cursor", "mcp.json")
	if err := os.MkdirAll(filepath.Dir(linkPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, linkPath); err != nil {
		t.Fatal(err)
	}
	lloc := testLocation(t, Cursor, ScopeUser).WithPath(linkPath)
	c, err = PlanInstall(lloc, testEntry, testOwn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (Writer{}).Apply(c); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(linkPath); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("symlink replaced: %v %v", fi, err)
	}
	if es, err := ReadEntries(lloc); err != nil || len(es) != 1 || es[0].Command != testEntry.Command {
		t.Errorf("ReadEntries through the link: %+v %v", es, err)
	}
}

func TestReadEntriesAndLocalProjects(t *testing.T) {
	loc := testLocation(t, ClaudeCode, ScopeUser).WithPath(filepath.Join("testdata", "claude-code-local", "want.json"))
	projects, err := LocalProjects(loc)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"/home/u/proj"}, projects); diff != "" {
		t.Errorf("projects (-want +got):\n%s", diff)
	}
	local := testLocation(t, ClaudeCode, ScopeLocal).WithPath(loc.Path)
	es, err := ReadEntries(local)
	if err != nil {
		t.Fatal(err)
	}
	want := []ServerEntry{
		{Name: "github", Command: "github-mcp", Args: []string{}, Env: map[string]string{}},
		{Name: "mysvc", Command: testEntry.Command, Args: testEntry.Args},
	}
	if diff := cmp.Diff(want, es); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	user, err := ReadEntries(loc)
	if err != nil || len(user) != 0 {
		t.Errorf("user-scope entries: %v, %v; want none", user, err)
	}
	codex := testLocation(t, Codex, ScopeUser).WithPath(filepath.Join("testdata", "codex-tables", "want.toml"))
	ces, err := ReadEntries(codex)
	if err != nil {
		t.Fatal(err)
	}
	wantCodex := []ServerEntry{
		{Name: "docs", Command: "docs-mcp", Args: []string{"--root", "/srv/docs"}, Env: map[string]string{"DOCS_TOKEN_FILE": "/home/u/.docs"}},
		{Name: "mysvc", Command: testEntryEnv.Command, Args: testEntryEnv.Args, Env: testEntryEnv.Env},
	}
	if diff := cmp.Diff(wantCodex, ces); diff != "" {
		t.Errorf("codex entries (-want +got):\n%s", diff)
	}
	missing, err := ReadEntries(loc.WithPath(filepath.Join(t.TempDir(), "none.json")))
	if err != nil || missing != nil {
		t.Errorf("missing file: %v, %v", missing, err)
	}
}

// A symlink to a file that does not exist (dotfiles not checked out yet) is neither
// replaced by a regular file nor followed to create its target: an error says what to do.
func TestDanglingSymlinkIsRefused(t *testing.T) {
	dir := t.TempDir()
	linkPath := filepath.Join(dir, "mcp.json")
	dest := filepath.Join(dir, "dotfiles", "mcp.json")
	if err := os.Symlink(dest, linkPath); err != nil {
		t.Fatal(err)
	}
	loc := testLocation(t, Cursor, ScopeUser).WithPath(linkPath)
	want := linkPath + " is a symlink to " + dest + ", which cannot be read"
	if _, err := PlanInstall(loc, testEntry, testOwn); err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "remove the symlink") {
		t.Errorf("PlanInstall error %v, want one starting %q", err, want)
	}
	if _, err := PlanRemove(loc, "mysvc", testOwn); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("PlanRemove error %v, want one starting %q", err, want)
	}
	if fi, err := os.Lstat(linkPath); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("%s is no longer a symlink: %v", linkPath, err)
	}
	if diff := cmp.Diff([]string{"mcp.json"}, dirNames(t, dir)); diff != "" {
		t.Errorf("directory (-want +got):\n%s", diff)
	}
}
