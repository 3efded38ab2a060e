// Package probe runs the network half of `mcp-cloudrun-proxy debug`: it checks, one step at a
// time, that an MCP server is reachable over Streamable HTTP, that it accepts a bearer token,
// answers initialize and tools/list, and lets its session be deleted; and it renders a
// [Report] of such steps as text or JSON.
//
// Every step is a [Step] with a [Verdict], what was checked, what was found and, when
// something is wrong, the remedy. Anything quoted from a server is excerpted with
// [proxy.Excerpt], so a token echoed back never reaches the report.
//
// Like package proxy it knows MCP and HTTP and nothing of Google: the caller supplies the
// token as a string, and explains 401 and 403 answers through [Hints], since only it knows
// which credential minted the token and for which audience.
package probe
