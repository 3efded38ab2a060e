package mcpclientcfg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// A Client is an MCP client whose config file this package can edit.
type Client string

// The supported clients; [Clients] lists them in this order.
const (
	ClaudeDesktop Client = "claude-desktop"
	ClaudeCode    Client = "claude-code"
	Cursor        Client = "cursor"
	VSCode        Client = "vscode"
	Windsurf      Client = "windsurf"
	Gemini        Client = "gemini"
	Codex         Client = "codex"
	Opencode      Client = "opencode"
	Qwen          Client = "qwen"
	Zed           Client = "zed"
	LMStudio      Client = "lmstudio"
	AmazonQ       Client = "amazonq"
)

// Clients returns every supported client.
func Clients() []Client {
	return []Client{ClaudeDesktop, ClaudeCode, Cursor, VSCode, Windsurf, Gemini, Codex, Opencode, Qwen, Zed, LMStudio, AmazonQ}
}

// A Scope says whose config an entry goes into.
type Scope string

// Scopes. ScopeUser is the default everywhere.
const (
	// ScopeUser is the user's own config, used in every project.
	ScopeUser Scope = "user"
	// ScopeProject is a file in the project directory, meant to be committed.
	ScopeProject Scope = "project"
	// ScopeLocal is Claude Code's per-project entry kept in ~/.claude.json.
	ScopeLocal Scope = "local"
)

// Scopes returns the scopes a client supports, ScopeUser first.
func Scopes(c Client) []Scope {
	switch c {
	case ClaudeCode:
		return []Scope{ScopeUser, ScopeProject, ScopeLocal}
	case Cursor, VSCode, Gemini, Codex, Opencode, Qwen, Zed, AmazonQ:
		return []Scope{ScopeUser, ScopeProject}
	case ClaudeDesktop, Windsurf, LMStudio:
		return []Scope{ScopeUser}
	}
	return nil
}

// A Format is the syntax of a config file.
type Format int

// Formats.
const (
	// FormatJSON is strict JSON (RFC 8259).
	FormatJSON Format = iota
	// FormatJSONC is JSON with comments and trailing commas, as VS Code and its forks read it.
	FormatJSONC
	// FormatTOML is TOML 1.0.
	FormatTOML
)

func (f Format) String() string {
	switch f {
	case FormatJSON:
		return "JSON"
	case FormatJSONC:
		return "JSON with comments"
	case FormatTOML:
		return "TOML"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// System is what locating config files depends on. Tests pass their own to cover every OS.
type System struct {
	// GOOS is "linux", "darwin" or "windows"; other Unix systems are treated as Linux.
	GOOS string
	// Home is the user's home directory.
	Home string
	// Getenv reads environment variables (APPDATA, XDG_CONFIG_HOME, CLAUDE_CONFIG_DIR,
	// CODEX_HOME); nil reads none.
	Getenv func(string) string
	// ProjectDir is the absolute project directory for ScopeProject and ScopeLocal.
	ProjectDir string
	// Glob lists the existing paths matching a pattern, as filepath.Glob; nil finds none.
	Glob func(pattern string) ([]string, error)
}

// CurrentSystem describes this process: its OS, home directory, environment and working
// directory.
func CurrentSystem() System {
	home, _ := os.UserHomeDir()
	wd, _ := os.Getwd()
	return System{GOOS: runtime.GOOS, Home: home, Getenv: os.Getenv, ProjectDir: wd, Glob: filepath.Glob}
}

// StateDir is where app keeps its state on sys: $XDG_STATE_HOME/app or
// ~/.local/state/app on Linux, ~/Library/Application Support/app on macOS,
// %LOCALAPPDATA%\app on Windows. "" when there is no home directory.
func (s System) StateDir(app string) string {
	switch s.GOOS {
	case "windows":
		if d := s.env("LOCALAPPDATA"); d != "" {
			return s.join(d, app)
		}
		if s.Home == "" {
			return ""
		}
		return s.join(s.Home, "AppData", "Local", app)
	case "darwin":
		if s.Home == "" {
			return ""
		}
		return s.join(s.Home, "Library", "Application Support", app)
	default:
		if d := s.env("XDG_STATE_HOME"); d != "" && isAbs(d) {
			return s.join(d, app)
		}
		if s.Home == "" {
			return ""
		}
		return s.join(s.Home, ".local", "state", app)
	}
}

func (s System) glob(pattern string) []string {
	if s.Glob == nil {
		return nil
	}
	m, err := s.Glob(pattern)
	if err != nil {
		return nil
	}
	sort.Strings(m)
	return m
}

// claudeDesktopDir is Claude Desktop's config directory. On Windows the current installer
// is an MSIX package, whose app reads %APPDATA% through a per-package redirect,
// %LOCALAPPDATA%\Packages\Claude_<publisher hash>\LocalCache\Roaming; a file written to
// the real %APPDATA%\Claude is not seen once that directory exists. So an existing
// redirected directory wins, and %APPDATA%\Claude (the older installer) is the fallback.
func (s System) claudeDesktopDir() string {
	if s.GOOS == "windows" {
		local := s.env("LOCALAPPDATA")
		if local == "" {
			local = s.join(s.Home, "AppData", "Local")
		}
		if m := s.glob(s.join(local, "Packages", "Claude_*", "LocalCache", "Roaming", "Claude")); len(m) > 0 {
			return m[0]
		}
	}
	return s.join(s.appData(), "Claude")
}

func (s System) env(key string) string {
	if s.Getenv == nil {
		return ""
	}
	return s.Getenv(key)
}

// join joins path elements with the separator of s.GOOS, so that Windows paths can be
// computed (and tested) on any OS.
func (s System) join(elem ...string) string {
	if s.GOOS != "windows" {
		return filepath.ToSlash(filepath.Join(elem...))
	}
	var parts []string
	for i, e := range elem {
		e = strings.ReplaceAll(e, "/", `\`)
		if i > 0 {
			e = strings.Trim(e, `\`)
		} else {
			e = strings.TrimRight(e, `\`)
		}
		if e != "" {
			parts = append(parts, e)
		}
	}
	return strings.Join(parts, `\`)
}

// appData is where per-user application config lives: %APPDATA% on Windows,
// ~/Library/Application Support on macOS, $XDG_CONFIG_HOME or ~/.config elsewhere.
func (s System) appData() string {
	switch s.GOOS {
	case "windows":
		if d := s.env("APPDATA"); d != "" {
			return d
		}
		return s.join(s.Home, "AppData", "Roaming")
	case "darwin":
		return s.join(s.Home, "Library", "Application Support")
	default:
		if d := s.env("XDG_CONFIG_HOME"); d != "" && isAbs(d) {
			return d
		}
		return s.join(s.Home, ".config")
	}
}

func isAbs(p string) bool {
	return strings.HasPrefix(p, "/") || (len(p) > 2 && p[1] == ':')
}

// A Location is one config file and the place in it that holds server entries.
type Location struct {
	Client Client
	Scope  Scope
	// Path is the config file.
	Path   string
	Format Format
	// KeyPath leads from the top of the file to the object (or TOML table) whose members are
	// the server entries, e.g. ["mcpServers"], ["servers"], ["mcp_servers"] or
	// ["projects", "/abs/project", "mcpServers"].
	KeyPath []string
	// StdioType says entries carry "type": "stdio".
	StdioType bool
	// Shape is how an entry is written.
	Shape Shape
}

// A Shape is the layout of a server entry in a JSON config file.
type Shape int

// Shapes.
const (
	// ShapeCommandArgs is {"command": "...", "args": [...], "env": {...}}, as most clients.
	ShapeCommandArgs Shape = iota
	// ShapeOpencode is opencode's {"type": "local", "command": [...], "environment": {...}}.
	ShapeOpencode
)

// WithPath returns l reading and writing path instead (the --config override).
func (l Location) WithPath(path string) Location {
	l.Path = path
	return l
}

// errUnsupportedScope is returned by [Locate] for a scope the client does not have.
var errUnsupportedScope = errors.New("scope not supported by this client")

// Locate returns where client c keeps its server entries for scope s on sys. An empty scope
// means ScopeUser.
func Locate(sys System, c Client, s Scope) (Location, error) {
	if s == "" {
		s = ScopeUser
	}
	scopes := Scopes(c)
	if scopes == nil {
		return Location{}, fmt.Errorf("unknown client %q; use one of %s", c, joinClients(Clients()))
	}
	ok := false
	for _, sc := range scopes {
		ok = ok || sc == s
	}
	if !ok {
		return Location{}, fmt.Errorf("client %s: scope %q: %w; use --scope %s", c, s, errUnsupportedScope, joinScopes(scopes))
	}
	if s != ScopeUser && s != "" {
		if sys.ProjectDir == "" || !isAbs(sys.ProjectDir) {
			return Location{}, fmt.Errorf("client %s, scope %s: no absolute project directory", c, s)
		}
	}
	if s == ScopeUser && sys.Home == "" {
		return Location{}, fmt.Errorf("client %s: no home directory; pass --config", c)
	}
	l := Location{Client: c, Scope: s, Format: FormatJSON, KeyPath: []string{"mcpServers"}}
	place := placers[c]
	place(sys, &l)
	return l, nil
}

// placers set a Location's path and format for each client; l arrives with the defaults
// (strict JSON, "mcpServers") and its scope.
var placers = map[Client]func(sys System, l *Location){
	ClaudeDesktop: func(sys System, l *Location) {
		l.Path = sys.join(sys.claudeDesktopDir(), "claude_desktop_config.json")
	},
	ClaudeCode: func(sys System, l *Location) {
		l.StdioType = true
		switch l.Scope {
		case ScopeProject:
			l.Path = sys.join(sys.ProjectDir, ".mcp.json")
		case ScopeLocal:
			l.Path, l.KeyPath = sys.claudeJSON(), []string{"projects", sys.projectKey(), "mcpServers"}
		default:
			l.Path = sys.claudeJSON()
		}
	},
	Cursor: func(sys System, l *Location) {
		l.Format, l.Path = FormatJSONC, sys.dotDir(l.Scope, ".cursor", "mcp.json")
	},
	VSCode: func(sys System, l *Location) {
		l.Format, l.KeyPath, l.StdioType = FormatJSONC, []string{"servers"}, true
		l.Path = sys.join(sys.appData(), "Code", "User", "mcp.json")
		if l.Scope == ScopeProject {
			l.Path = sys.join(sys.ProjectDir, ".vscode", "mcp.json")
		}
	},
	Windsurf: func(sys System, l *Location) {
		l.Format, l.Path = FormatJSONC, sys.join(sys.Home, ".codeium", "windsurf", "mcp_config.json")
	},
	Gemini: func(sys System, l *Location) {
		l.Format, l.Path = FormatJSONC, sys.dotDir(l.Scope, ".gemini", "settings.json")
	},
	// Qwen Code is a fork of Gemini CLI and reads the same settings format.
	Qwen: func(sys System, l *Location) {
		l.Format, l.Path = FormatJSONC, sys.dotDir(l.Scope, ".qwen", "settings.json")
	},
	Codex: func(sys System, l *Location) {
		l.Format, l.KeyPath = FormatTOML, []string{"mcp_servers"}
		home := sys.env("CODEX_HOME")
		if home == "" {
			home = sys.join(sys.Home, ".codex")
		}
		l.Path = sys.join(home, "config.toml")
		if l.Scope == ScopeProject {
			// Codex reads .codex/config.toml of a trusted project on top of the user's.
			l.Path = sys.join(sys.ProjectDir, ".codex", "config.toml")
		}
	},
	// opencode: "mcp" entries with "type": "local" and the command line as one array, in
	// $XDG_CONFIG_HOME/opencode (~/.config/opencode on every OS) or the project's root.
	Opencode: func(sys System, l *Location) {
		l.Format, l.KeyPath, l.Shape = FormatJSONC, []string{"mcp"}, ShapeOpencode
		l.Path = sys.join(sys.xdgConfig(), "opencode", "opencode.json")
		if l.Scope == ScopeProject {
			l.Path = sys.join(sys.ProjectDir, "opencode.json")
		}
	},
	// Zed: "context_servers" in settings.json (~/.config/zed, %APPDATA%\Zed) or .zed/.
	Zed: func(sys System, l *Location) {
		l.Format, l.KeyPath = FormatJSONC, []string{"context_servers"}
		l.Path = sys.join(sys.xdgConfig(), "zed", "settings.json")
		if sys.GOOS == "windows" {
			l.Path = sys.join(sys.appData(), "Zed", "settings.json")
		}
		if l.Scope == ScopeProject {
			l.Path = sys.join(sys.ProjectDir, ".zed", "settings.json")
		}
	},
	LMStudio: func(sys System, l *Location) {
		l.Path = sys.join(sys.Home, ".lmstudio", "mcp.json")
	},
	// Amazon Q Developer CLI: ~/.aws/amazonq/mcp.json, or the workspace's .amazonq/mcp.json.
	AmazonQ: func(sys System, l *Location) {
		l.Path = sys.join(sys.Home, ".aws", "amazonq", "mcp.json")
		if l.Scope == ScopeProject {
			l.Path = sys.join(sys.ProjectDir, ".amazonq", "mcp.json")
		}
	},
}

// dotDir is DIR/FILE in the home directory for ScopeUser, in the project otherwise.
func (s System) dotDir(scope Scope, dir, file string) string {
	if scope == ScopeProject {
		return s.join(s.ProjectDir, dir, file)
	}
	return s.join(s.Home, dir, file)
}

// xdgConfig is $XDG_CONFIG_HOME or ~/.config, on every OS: what CLI tools that follow the
// XDG spec everywhere (opencode, Zed on Unix) read.
func (s System) xdgConfig() string {
	if d := s.env("XDG_CONFIG_HOME"); d != "" && isAbs(d) {
		return d
	}
	return s.join(s.Home, ".config")
}

// projectKey is how Claude Code names the project directory in ~/.claude.json's
// "projects": the path as is, but with forward slashes on Windows (C:/Users/u/proj).
// [PlanInstall] and friends reuse an existing key that differs only in slashes or case.
func (s System) projectKey() string {
	if s.GOOS == "windows" {
		return strings.ReplaceAll(s.ProjectDir, `\`, "/")
	}
	return s.ProjectDir
}

// sameProject reports whether two "projects" keys of ~/.claude.json name the same
// directory: equal, or, for Windows paths (a drive letter or a backslash), equal but for
// slash style, case and a trailing slash.
func sameProject(a, b string) bool {
	if a == b {
		return true
	}
	if !windowsPath(a) && !windowsPath(b) {
		return false
	}
	norm := func(p string) string {
		p = strings.ReplaceAll(p, `\`, "/")
		if len(p) > 1 {
			p = strings.TrimRight(p, "/")
		}
		return p
	}
	return strings.EqualFold(norm(a), norm(b))
}

func windowsPath(p string) bool {
	return strings.Contains(p, `\`) || (len(p) >= 2 && p[1] == ':' && ('a' <= p[0]|0x20 && p[0]|0x20 <= 'z'))
}

// claudeJSON is Claude Code's ~/.claude.json, or $CLAUDE_CONFIG_DIR/.claude.json.
func (s System) claudeJSON() string {
	if d := s.env("CLAUDE_CONFIG_DIR"); d != "" {
		return s.join(d, ".claude.json")
	}
	return s.join(s.Home, ".claude.json")
}

// Installed reports whether the user-scope location of client c exists on this machine:
// the config file exists, or its directory does (and is not the home directory itself),
// which is what the client creates when it is installed.
func Installed(sys System, c Client) (Location, bool) {
	l, err := Locate(sys, c, ScopeUser)
	if err != nil {
		return l, false
	}
	if _, err := os.Stat(l.Path); err == nil {
		return l, true
	}
	dir := filepath.Dir(l.Path)
	if filepath.Clean(dir) == filepath.Clean(sys.Home) {
		return l, false
	}
	st, err := os.Stat(dir)
	return l, err == nil && st.IsDir()
}

// DisplayName is the client's product name.
func (c Client) DisplayName() string {
	if n, ok := displayNames[c]; ok {
		return n
	}
	return string(c)
}

var displayNames = map[Client]string{
	ClaudeDesktop: "Claude Desktop", ClaudeCode: "Claude Code", Cursor: "Cursor", VSCode: "VS Code",
	Windsurf: "Windsurf", Gemini: "Gemini CLI", Codex: "Codex CLI", Opencode: "opencode",
	Qwen: "Qwen Code", Zed: "Zed", LMStudio: "LM Studio", AmazonQ: "Amazon Q Developer CLI",
}

// NextStep tells the user how to make client c pick up a new or changed entry called name
// in scope s, and what stands between the entry and a running server (approval, folder
// trust) where the client has such a step.
func (c Client) NextStep(name string, s Scope) string {
	switch c {
	case ClaudeCode:
		if s == ScopeProject {
			return fmt.Sprintf("Next: in this project, run `claude` and approve %q when asked (until then `claude mcp list` shows it as pending approval; run `claude mcp reset-project-choices` to be asked again).", name)
		}
		return fmt.Sprintf("Next: run `claude mcp list` and check that %q is listed as connected; restart running Claude Code sessions to load it.", name)
	case VSCode:
		return fmt.Sprintf("Next: restart VS Code (or run \"MCP: List Servers\" and start %q).", name)
	case Codex:
		if s == ScopeProject {
			return "Next: Codex reads .codex/config.toml only in a trusted project: start `codex` in the project and trust it when asked; `codex mcp list` then shows the entry."
		}
		return "Next: start a new Codex session; `codex mcp list` shows the entry."
	case Gemini:
		return "Next: restart Gemini CLI; `gemini mcp list` checks the server. Gemini CLI starts no MCP server (not even user-scope ones) in a folder you have not trusted: trust it when asked, or with /permissions trust."
	case Qwen:
		if s == ScopeProject {
			return "Next: restart Qwen Code; `qwen mcp list` checks the server. With folder trust on (security.folderTrust.enabled), Qwen Code reads .qwen/settings.json only in a trusted folder."
		}
		return "Next: restart Qwen Code; `qwen mcp list` checks the server."
	case Opencode:
		return fmt.Sprintf("Next: run `opencode mcp list` and check that %q is connected; restart running opencode sessions to load it.", name)
	case AmazonQ:
		return fmt.Sprintf("Next: start a new `q chat` session; `q mcp list` shows %q.", name)
	case Zed:
		return fmt.Sprintf("Next: Zed reloads its settings by itself; check that %q has a green dot under Settings > AI > MCP Servers (Agent Panel settings).", name)
	}
	return fmt.Sprintf("Next: quit %s completely (not just its window) and start it again to load %q.", c.DisplayName(), name)
}

func joinClients(cs []Client) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

func joinScopes(ss []Scope) string {
	s := make([]string, len(ss))
	for i, c := range ss {
		s[i] = string(c)
	}
	return strings.Join(s, " or ")
}
