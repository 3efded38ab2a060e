// Package mcpclientcfg reads and edits the MCP server entries in MCP clients' config files
// (Claude Desktop, Claude Code, Cursor, VS Code, Windsurf, Gemini CLI, Codex), changing only
// the entry it manages and keeping everything else as it was.
//
// [Locate] says where a client keeps its entries for a scope on a given OS, [PlanInstall]
// and [PlanRemove] compute the new file content and its diff without writing, and
// [Writer.Apply] writes a [Change] atomically, keeping the file mode and saving the previous
// content in a new timestamped backup. An existing entry of the same name is replaced or
// removed only if [Ownership] recognises it as ours (or with Ownership.Force):
//
//	loc, err := mcpclientcfg.Locate(mcpclientcfg.CurrentSystem(), mcpclientcfg.ClaudeDesktop, mcpclientcfg.ScopeUser)
//	...
//	own := mcpclientcfg.Ownership{Program: "mcp-cloudrun-proxy", Self: exe}
//	change, err := mcpclientcfg.PlanInstall(loc, mcpclientcfg.ServerEntry{Name: "mysvc", Command: exe, Args: args}, own)
//	...
//	if !change.UpToDate() {
//		res, err := mcpclientcfg.Writer{}.Apply(change)
//		...
//	}
//
// JSON files are edited in place on a syntax tree that keeps every byte (github.com/tailscale/hujson),
// so other servers, unknown keys, key order, comments and formatting survive; Codex's TOML is
// edited line by line guided by the go-toml parser, which also validates input and output.
// The package knows nothing of Google or of the proxy's flags: callers give it a [ServerEntry].
package mcpclientcfg
