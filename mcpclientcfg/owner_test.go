package mcpclientcfg

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOwnershipOwns(t *testing.T) {
	own := Ownership{Program: "mcp-cloudrun-proxy", Self: "/tmp/go-build1/main.test"}
	for _, tc := range []struct {
		command string
		want    bool
	}{
		{"/home/u/.nix-profile/bin/mcp-cloudrun-proxy", true},
		{`C:\Tools\mcp-cloudrun-proxy.exe`, true},
		{`C:\Tools\MCP-CLOUDRUN-PROXY.EXE`, true},
		{"/tmp/go-build1/main.test", true},
		{"npx", false},
		{"/usr/bin/mcp-cloudrun-proxy-old", false},
		{"", false},
	} {
		if got := own.Owns(ServerEntry{Command: tc.command}); got != tc.want {
			t.Errorf("Owns(%q) = %v, want %v", tc.command, got, tc.want)
		}
	}
	if (Ownership{}).Owns(ServerEntry{Command: "/bin/mcp-cloudrun-proxy"}) {
		t.Error("the zero Ownership owns an entry")
	}
}

// An entry of the same name that does not run the proxy is someone else's server: install
// and remove leave it (and the file) alone unless forced.
func TestForeignEntryIsLeftAloneWithoutForce(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		client  Client
		file    string
		content string
		remove  bool
		want    string // in the error
	}{
		{"install over npx server", Cursor, "mcp.json", `{"mcpServers": {"mysvc": {"command": "npx", "args": ["-y", "@acme/mysvc-mcp"], "env": {"TOKEN": "s3cret"}}}}`, false,
			`a different server is already called "mysvc": it runs "npx", not mcp-cloudrun-proxy; it was left unchanged (choose another name with --name, or pass --force to replace it)`},
		{"install over http server", ClaudeCode, ".claude.json", `{"mcpServers": {"mysvc": {"type": "http", "url": "https://x/mcp"}}}`, false,
			`it has no command (it is an HTTP or other non-stdio server)`},
		{"install over non-object", Cursor, "mcp.json", `{"mcpServers": {"mysvc": "disabled"}}`, false, `"mysvc"`},
		{"install over codex server", Codex, "config.toml", "[mcp_servers.mysvc]\ncommand = \"uvx\"\nargs = [\"mysvc\"]\n", false, `runs "uvx"`},
		{"remove npx server", Cursor, "mcp.json", `{"mcpServers": {"mysvc": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"]}}}`, true,
			`server "mysvc" runs "npx", not mcp-cloudrun-proxy; it was left in place (pass --force to remove it anyway)`},
		{"remove codex server", Codex, "config.toml", "[mcp_servers.mysvc]\ncommand = \"uvx\"\n", true, "pass --force"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), tc.file)
			writeFile(t, p, tc.content, 0o600)
			loc := testLocation(t, tc.client, ScopeUser).WithPath(p)
			plan := func(own Ownership) (*Change, error) {
				if tc.remove {
					return PlanRemove(loc, "mysvc", own)
				}
				return PlanInstall(loc, testEntry, own)
			}
			_, err := plan(testOwn)
			var ferr *ForeignEntryError
			if !errors.As(err, &ferr) || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), p+": ") {
				t.Fatalf("error %v, want a ForeignEntryError naming %s and containing %q", err, p, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows the entry's env: %v", err)
			}
			forced := testOwn
			forced.Force = true
			c, err := plan(forced)
			if err != nil {
				t.Fatalf("with Force: %v", err)
			}
			if !c.Found || c.UpToDate() {
				t.Fatalf("with Force: Found %v UpToDate %v", c.Found, c.UpToDate())
			}
			if got := readFile(t, p); got != tc.content {
				t.Errorf("planning changed the file:\n%s", got)
			}
		})
	}
}

// Our own entry, found by the program's base name, is updated and removed without Force.
func TestOwnEntryIsReplacedWithoutForce(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mcp.json")
	writeFile(t, p, `{"mcpServers": {"mysvc": {"command": "/usr/local/bin/mcp-cloudrun-proxy", "args": ["run"]}}}`, 0o600)
	loc := testLocation(t, Cursor, ScopeUser).WithPath(p)
	if c, err := PlanInstall(loc, testEntry, testOwn); err != nil || !c.Found {
		t.Errorf("install over our own entry: %v, found %v", err, c != nil && c.Found)
	}
	if c, err := PlanRemove(loc, "mysvc", testOwn); err != nil || !c.Found {
		t.Errorf("remove our own entry: %v, found %v", err, c != nil && c.Found)
	}
	if diff := cmp.Diff([]string{"mcp.json"}, dirNames(t, filepath.Dir(p))); diff != "" {
		t.Errorf("planning wrote files (-want +got):\n%s", diff)
	}
}

// --env adds to and overrides the env of our entry; variables added by hand stay. A
// foreign entry replaced with Force keeps none of its env.
func TestInstallKeepsEnvAddedByHand(t *testing.T) {
	want := map[string]string{"A": "new", "B": "3", "KEPT": "by hand"}
	for _, tc := range []struct {
		desc    string
		client  Client
		file    string
		content string
		force   bool
		want    map[string]string
	}{
		{"json", Cursor, "mcp.json", `{"mcpServers": {"mysvc": {"command": "/x/mcp-cloudrun-proxy", "args": ["run"], "env": {"A": "old", "KEPT": "by hand"}}}}`, false, want},
		{"toml inline env", Codex, "config.toml", "[mcp_servers.mysvc]\ncommand = \"/x/mcp-cloudrun-proxy\"\nargs = [\"run\"]\nenv = { A = \"old\", KEPT = \"by hand\" }\n", false, want},
		{"toml env table", Codex, "config.toml", "[mcp_servers.mysvc]\ncommand = \"/x/mcp-cloudrun-proxy\"\nargs = [\"run\"]\n\n[mcp_servers.mysvc.env]\nA = \"old\"\nKEPT = \"by hand\"\n", false, want},
		{"foreign forced", Cursor, "mcp.json", `{"mcpServers": {"mysvc": {"command": "npx", "args": [], "env": {"TOKEN": "s3cret"}}}}`, true, map[string]string{"A": "new", "B": "3"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), tc.file)
			writeFile(t, p, tc.content, 0o600)
			loc := testLocation(t, tc.client, ScopeUser).WithPath(p)
			e := testEntry
			e.Env = map[string]string{"A": "new", "B": "3"}
			own := testOwn
			own.Force = tc.force
			c, err := PlanInstall(loc, e, own)
			if err != nil {
				t.Fatal(err)
			}
			got, ok, err := lookup(loc, c.New, "mysvc")
			if err != nil || !ok {
				t.Fatalf("lookup: %v, %v", ok, err)
			}
			if diff := cmp.Diff(tc.want, got.Env); diff != "" {
				t.Errorf("env (-want +got):\n%s\nfile:\n%s", diff, c.New)
			}
			if diff := cmp.Diff(e.Env, map[string]string{"A": "new", "B": "3"}); diff != "" {
				t.Errorf("PlanInstall changed the caller's env map:\n%s", diff)
			}
			// Running the same install again is up to date.
			if _, err := (Writer{now: fixedNow}).Apply(c); err != nil {
				t.Fatal(err)
			}
			own.Force = false
			again, err := PlanInstall(loc, e, own)
			if err != nil || !again.UpToDate() {
				t.Errorf("second install: %v, up to date %v:\n%s", err, again != nil && again.UpToDate(), again.Diff())
			}
		})
	}
}
