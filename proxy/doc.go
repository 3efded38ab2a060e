// Package proxy relays MCP JSON-RPC messages between a stdio client and a Streamable HTTP MCP
// server, byte for byte, adding a bearer token to every request.
//
// It knows the MCP transport (framing, sessions, SSE streams, resumption) and nothing of
// Google: tokens come from a [TokenSource] supplied by the caller.
package proxy
