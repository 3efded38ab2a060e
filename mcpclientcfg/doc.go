// Package mcpclientcfg reads and edits the MCP server entries in MCP clients' config files
// (Claude Desktop, Claude Code, Cursor, VS Code, Windsurf, Gemini CLI, Codex), changing only
// the entry it manages and keeping everything else as it was.
package mcpclientcfg
