// Package mcpclientcfg reads and edits the MCP server entries in MCP clients' config files
// (Claude Desktop, Claude Code, Cursor, VS Code, Windsurf, Gemini CLI, Codex, opencode, Qwen
// Code, Zed, LM Studio, Amazon Q Developer CLI), changing only the entry it manages and
// keeping everything else as it was.
//
// [Locate] says where a client keeps its entries for a scope on a given OS, [PlanInstall]
// and [PlanRemove] compute the new file content and its diff without writing, and
// [Writer.Apply] writes a [Change] atomically, keeping the file mode, saving the previous
// content in a timestamped backup under the user's state directory, and writing nothing if
// the client changed the file in the meantime. An existing entry of the same name is replaced or
// removed only if [Ownership] recognises it as ours (or with Ownership.Force):
//
//	sys := mcpclientcfg.CurrentSystem()
//	loc, err := mcpclientcfg.Locate(sys, mcpclientcfg.ClaudeDesktop, mcpclientcfg.ScopeUser)
//	...
//	own := mcpclientcfg.Ownership{Program: "mcp-cloudrun-proxy", Self: exe}
//	change, err := mcpclientcfg.PlanInstall(loc, mcpclientcfg.ServerEntry{Name: "mysvc", Command: exe, Args: args}, own)
//	...
//	if !change.UpToDate() {
//		w := mcpclientcfg.Writer{StateDir: sys.StateDir("mcp-cloudrun-proxy")}
//		res, err := w.Apply(change)
//		...
//	}
//
// JSON files are edited in place on a syntax tree that keeps every byte (github.com/tailscale/hujson),
// so other servers, unknown keys, key order, comments and formatting survive; Codex's TOML is
// edited line by line guided by the go-toml parser, which also validates input and output.
// The package knows nothing of Google or of the proxy's flags: callers give it a [ServerEntry].
package mcpclientcfg
