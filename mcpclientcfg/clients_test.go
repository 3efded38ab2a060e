package mcpclientcfg

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLocate(t *testing.T) {
	linux := System{GOOS: "linux", Home: "/home/u", ProjectDir: "/home/u/proj"}
	linuxXDG := System{GOOS: "linux", Home: "/home/u", ProjectDir: "/home/u/proj", Getenv: envMap{"XDG_CONFIG_HOME": "/xdg", "CLAUDE_CONFIG_DIR": "/cc", "CODEX_HOME": "/codex"}.get}
	mac := System{GOOS: "darwin", Home: "/Users/u", ProjectDir: "/Users/u/proj"}
	win := System{GOOS: "windows", Home: `C:\Users\u`, ProjectDir: `C:\src\proj`, Getenv: envMap{"APPDATA": `C:\Users\u\AppData\Roaming`}.get}
	winNoAppData := System{GOOS: "windows", Home: `C:\Users\u`}
	// Claude Desktop from the MSIX installer: its redirected AppData exists.
	winMSIX := win
	winMSIX.Getenv = envMap{"APPDATA": `C:\Users\u\AppData\Roaming`, "LOCALAPPDATA": `D:\Local`}.get
	winMSIX.Glob = fakeGlob(t, `D:\Local\Packages\Claude_*\LocalCache\Roaming\Claude`, `D:\Local\Packages\Claude_pzs8sxrjxfjjc\LocalCache\Roaming\Claude`)
	winMSIXNoLocalAppData := winNoAppData
	winMSIXNoLocalAppData.Glob = fakeGlob(t, `C:\Users\u\AppData\Local\Packages\Claude_*\LocalCache\Roaming\Claude`, `C:\Users\u\AppData\Local\Packages\Claude_pzs8sxrjxfjjc\LocalCache\Roaming\Claude`)
	// The package is not there: the classic installer's %APPDATA%\Claude.
	winNoMSIX := win
	winNoMSIX.Glob = fakeGlob(t, `C:\Users\u\AppData\Local\Packages\Claude_*\LocalCache\Roaming\Claude`)
	for _, tc := range []struct {
		sys     System
		client  Client
		scope   Scope
		path    string
		keyPath []string
	}{
		{linux, ClaudeDesktop, "", "/home/u/.config/Claude/claude_desktop_config.json", []string{"mcpServers"}},
		{linuxXDG, ClaudeDesktop, ScopeUser, "/xdg/Claude/claude_desktop_config.json", []string{"mcpServers"}},
		{mac, ClaudeDesktop, ScopeUser, "/Users/u/Library/Application Support/Claude/claude_desktop_config.json", []string{"mcpServers"}},
		{win, ClaudeDesktop, ScopeUser, `C:\Users\u\AppData\Roaming\Claude\claude_desktop_config.json`, []string{"mcpServers"}},
		{winNoAppData, ClaudeDesktop, ScopeUser, `C:\Users\u\AppData\Roaming\Claude\claude_desktop_config.json`, []string{"mcpServers"}},
		{winMSIX, ClaudeDesktop, ScopeUser, `D:\Local\Packages\Claude_pzs8sxrjxfjjc\LocalCache\Roaming\Claude\claude_desktop_config.json`, []string{"mcpServers"}},
		{winMSIXNoLocalAppData, ClaudeDesktop, ScopeUser, `C:\Users\u\AppData\Local\Packages\Claude_pzs8sxrjxfjjc\LocalCache\Roaming\Claude\claude_desktop_config.json`, []string{"mcpServers"}},
		{winNoMSIX, ClaudeDesktop, ScopeUser, `C:\Users\u\AppData\Roaming\Claude\claude_desktop_config.json`, []string{"mcpServers"}},
		{winMSIX, VSCode, ScopeUser, `C:\Users\u\AppData\Roaming\Code\User\mcp.json`, []string{"servers"}},
		{linux, ClaudeCode, ScopeUser, "/home/u/.claude.json", []string{"mcpServers"}},
		{linuxXDG, ClaudeCode, ScopeUser, "/cc/.claude.json", []string{"mcpServers"}},
		{linux, ClaudeCode, ScopeLocal, "/home/u/.claude.json", []string{"projects", "/home/u/proj", "mcpServers"}},
		{linux, ClaudeCode, ScopeProject, "/home/u/proj/.mcp.json", []string{"mcpServers"}},
		{mac, ClaudeCode, ScopeUser, "/Users/u/.claude.json", []string{"mcpServers"}},
		{win, ClaudeCode, ScopeUser, `C:\Users\u\.claude.json`, []string{"mcpServers"}},
		{win, ClaudeCode, ScopeLocal, `C:\Users\u\.claude.json`, []string{"projects", "C:/src/proj", "mcpServers"}},
		{win, ClaudeCode, ScopeProject, `C:\src\proj\.mcp.json`, []string{"mcpServers"}},
		{linux, Cursor, ScopeUser, "/home/u/.cursor/mcp.json", []string{"mcpServers"}},
		{linux, Cursor, ScopeProject, "/home/u/proj/.cursor/mcp.json", []string{"mcpServers"}},
		{win, Cursor, ScopeUser, `C:\Users\u\.cursor\mcp.json`, []string{"mcpServers"}},
		{linux, VSCode, ScopeUser, "/home/u/.config/Code/User/mcp.json", []string{"servers"}},
		{mac, VSCode, ScopeUser, "/Users/u/Library/Application Support/Code/User/mcp.json", []string{"servers"}},
		{win, VSCode, ScopeUser, `C:\Users\u\AppData\Roaming\Code\User\mcp.json`, []string{"servers"}},
		{linux, VSCode, ScopeProject, "/home/u/proj/.vscode/mcp.json", []string{"servers"}},
		{linux, Windsurf, ScopeUser, "/home/u/.codeium/windsurf/mcp_config.json", []string{"mcpServers"}},
		{mac, Windsurf, ScopeUser, "/Users/u/.codeium/windsurf/mcp_config.json", []string{"mcpServers"}},
		{win, Windsurf, ScopeUser, `C:\Users\u\.codeium\windsurf\mcp_config.json`, []string{"mcpServers"}},
		{linux, Gemini, ScopeUser, "/home/u/.gemini/settings.json", []string{"mcpServers"}},
		{linux, Gemini, ScopeProject, "/home/u/proj/.gemini/settings.json", []string{"mcpServers"}},
		{win, Gemini, ScopeUser, `C:\Users\u\.gemini\settings.json`, []string{"mcpServers"}},
		{linux, Codex, ScopeUser, "/home/u/.codex/config.toml", []string{"mcp_servers"}},
		{linuxXDG, Codex, ScopeUser, "/codex/config.toml", []string{"mcp_servers"}},
		{mac, Codex, ScopeUser, "/Users/u/.codex/config.toml", []string{"mcp_servers"}},
		{win, Codex, ScopeUser, `C:\Users\u\.codex\config.toml`, []string{"mcp_servers"}},
		{linuxXDG, Codex, ScopeProject, "/home/u/proj/.codex/config.toml", []string{"mcp_servers"}},
		{linux, Opencode, ScopeUser, "/home/u/.config/opencode/opencode.json", []string{"mcp"}},
		{linuxXDG, Opencode, ScopeUser, "/xdg/opencode/opencode.json", []string{"mcp"}},
		{mac, Opencode, ScopeUser, "/Users/u/.config/opencode/opencode.json", []string{"mcp"}},
		{win, Opencode, ScopeUser, `C:\Users\u\.config\opencode\opencode.json`, []string{"mcp"}},
		{linux, Opencode, ScopeProject, "/home/u/proj/opencode.json", []string{"mcp"}},
		{linux, Qwen, ScopeUser, "/home/u/.qwen/settings.json", []string{"mcpServers"}},
		{linux, Qwen, ScopeProject, "/home/u/proj/.qwen/settings.json", []string{"mcpServers"}},
		{win, Qwen, ScopeUser, `C:\Users\u\.qwen\settings.json`, []string{"mcpServers"}},
		{linux, Zed, ScopeUser, "/home/u/.config/zed/settings.json", []string{"context_servers"}},
		{mac, Zed, ScopeUser, "/Users/u/.config/zed/settings.json", []string{"context_servers"}},
		{win, Zed, ScopeUser, `C:\Users\u\AppData\Roaming\Zed\settings.json`, []string{"context_servers"}},
		{linux, Zed, ScopeProject, "/home/u/proj/.zed/settings.json", []string{"context_servers"}},
		{linux, LMStudio, ScopeUser, "/home/u/.lmstudio/mcp.json", []string{"mcpServers"}},
		{win, LMStudio, ScopeUser, `C:\Users\u\.lmstudio\mcp.json`, []string{"mcpServers"}},
		{linux, AmazonQ, ScopeUser, "/home/u/.aws/amazonq/mcp.json", []string{"mcpServers"}},
		{linux, AmazonQ, ScopeProject, "/home/u/proj/.amazonq/mcp.json", []string{"mcpServers"}},
	} {
		t.Run(tc.sys.GOOS+"/"+string(tc.client)+"/"+string(tc.scope), func(t *testing.T) {
			loc, err := Locate(tc.sys, tc.client, tc.scope)
			if err != nil {
				t.Fatal(err)
			}
			if loc.Path != tc.path {
				t.Errorf("path %q, want %q", loc.Path, tc.path)
			}
			if diff := cmp.Diff(tc.keyPath, loc.KeyPath); diff != "" {
				t.Errorf("key path (-want +got):\n%s", diff)
			}
		})
	}
}

// fakeGlob is a System.Glob that knows only pattern, which matches paths; any other
// pattern is a test failure.
func fakeGlob(t *testing.T, pattern string, paths ...string) func(string) ([]string, error) {
	return func(p string) ([]string, error) {
		if p != pattern {
			t.Errorf("Glob(%q), want Glob(%q)", p, pattern)
			return nil, nil
		}
		return paths, nil
	}
}

func TestSameProject(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"C:/Users/u/proj", "C:/Users/u/proj", true},
		{"C:/Users/u/proj", `C:\Users\u\proj`, true},
		{"C:/Users/u/proj", `c:\users\U\Proj\`, true},
		{"C:/Users/u/proj", "C:/Users/u/proj2", false},
		{"//server/share/p", `\\server\share\p`, true},
		{"/home/u/proj", "/home/u/Proj", false},
		{"/home/u/proj", "/home/u/proj/", false},
	} {
		if got := sameProject(tc.a, tc.b); got != tc.want {
			t.Errorf("sameProject(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

type envMap map[string]string

func (m envMap) get(k string) string { return m[k] }

func TestLocateFormats(t *testing.T) {
	sys := System{GOOS: "linux", Home: "/h", ProjectDir: "/p"}
	want := map[Client]struct {
		f     Format
		stdio bool
	}{
		ClaudeDesktop: {FormatJSON, false}, ClaudeCode: {FormatJSON, true}, Cursor: {FormatJSONC, false},
		VSCode: {FormatJSONC, true}, Windsurf: {FormatJSONC, false}, Gemini: {FormatJSONC, false}, Codex: {FormatTOML, false},
		Opencode: {FormatJSONC, false}, Qwen: {FormatJSONC, false}, Zed: {FormatJSONC, false}, LMStudio: {FormatJSON, false},
		AmazonQ: {FormatJSON, false},
	}
	for _, c := range Clients() {
		loc, err := Locate(sys, c, ScopeUser)
		if err != nil {
			t.Fatal(err)
		}
		if loc.Format != want[c].f || loc.StdioType != want[c].stdio {
			t.Errorf("%s: format %v stdio %v, want %v %v", c, loc.Format, loc.StdioType, want[c].f, want[c].stdio)
		}
	}
}

func TestLocateErrors(t *testing.T) {
	sys := System{GOOS: "linux", Home: "/h"}
	if _, err := Locate(sys, ClaudeDesktop, ScopeProject); !errors.Is(err, errUnsupportedScope) {
		t.Errorf("claude-desktop project scope: %v, want errUnsupportedScope", err)
	}
	if _, err := Locate(sys, "emacs", ScopeUser); err == nil {
		t.Error("unknown client: no error")
	}
	if _, err := Locate(sys, ClaudeCode, ScopeLocal); err == nil {
		t.Error("local scope without a project directory: no error")
	}
}

func TestInstalled(t *testing.T) {
	home := t.TempDir()
	sys := System{GOOS: "linux", Home: home}
	for _, p := range []string{".cursor", ".codex", ".config/Code/User"} {
		if err := os.MkdirAll(filepath.Join(home, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(home, ".claude.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	var got []Client
	for _, c := range Clients() {
		if _, ok := Installed(sys, c); ok {
			got = append(got, c)
		}
	}
	if diff := cmp.Diff([]Client{ClaudeCode, Cursor, VSCode, Codex}, got); diff != "" {
		t.Errorf("installed clients (-want +got):\n%s", diff)
	}
}
