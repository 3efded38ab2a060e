// Package proxy relays MCP JSON-RPC messages between a stdio client and a Streamable HTTP MCP
// server, byte for byte, adding credentials to every request.
//
// It knows the MCP transport (framing, sessions, SSE streams, resumption, the routing headers
// of 2026-07-28) and nothing of Google: credentials come from an [Authorizer] supplied by the
// caller.
//
// # Two generations of the transport
//
// Which generation a message belongs to is read from the message: a request whose
// params._meta["io.modelcontextprotocol/protocolVersion"] is 2026-07-28 or later is stateless;
// anything else belongs to the session the client's initialize started (2025-03-26 to
// 2025-11-25). A notification carries no _meta: it is stateless when the client has no
// session and has sent a 2026 request before.
//
// Stateless (2026-07-28) requests go without a session id, are never renewed after a 404 nor
// resumed with Last-Event-ID (the revision has neither), and open no standalone GET stream.
// Session requests keep the 2025 behaviour: Mcp-Session-Id, the standalone GET stream opened
// before the next message after the handshake, renewal by replaying initialize, resumption.
//
// # Headers derived from each body (2026-07-28, SEP-2243)
//
//	MCP-Protocol-Version  params._meta["io.modelcontextprotocol/protocolVersion"]; for a
//	                      notification, the version of the client's latest 2026 request
//	Mcp-Method            method (requests and notifications)
//	Mcp-Name              params.name for tools/call and prompts/get, params.uri for
//	                      resources/read; sent as it is (as the go-sdk client does, whose
//	                      server compares it undecoded), Base64-wrapped only when it holds
//	                      control characters an HTTP header cannot carry
//	Mcp-Param-{Name}      for tools/call: each argument whose input-schema property (reached
//	                      through "properties" keys only) has "x-mcp-header": "Name" and type
//	                      string, integer or boolean; strings as they are unless not plain
//	                      ASCII, padded with white space or shaped like the sentinel, then
//	                      "=?base64?...?="; integers in decimal (42.0 is 42; beyond 2^53-1
//	                      none); booleans true/false; null or absent: no header
//
// The annotations are learned from the tools/list results the relay passes on (page by page,
// tool by tool). A tools/call the server refuses with -32020 (header mismatch) makes the relay
// list the tools itself, with the call's _meta, and send the call once more.
//
// # One answer per request, one retry budget per message
//
// Every request gets exactly one answer, whichever stream carries it: an answer on another
// stream settles the request and stops its own stream; a second answer for an id is dropped.
// All retries made for one client message (transient statuses, refused connections, a
// rejected token, a renewed session) draw from one budget: [Config.RetryMax] retries started
// within [Config.RetryBudget].
package proxy
