// Package fakecloudrun is a fake Cloud Run service hosting an MCP server, for end-to-end tests
// of mcp-cloudrun-proxy.
//
// A [Server] listens on a loopback port and serves a real go-sdk MCP server
// (mcp.NewStreamableHTTPHandler: stateful sessions, an event store so that SSE streams can be
// resumed with Last-Event-ID, optionally JSON responses) behind a gate that behaves like Cloud
// Run IAM: it verifies the RS256 signature of the Bearer ID token against the fake Google's
// key, its iss, exp and aud (the service origin, configured custom audiences, or the gcloud and
// ADC OAuth client ids), and an invoker allow-list, answering 401/403 with WWW-Authenticate and
// an HTML page as Cloud Run does.
//
// Its tools cover what a relay must carry: echo (with delay), add (structured content), large
// (a payload of N bytes), digest (of a large argument), slow (progress notifications), sample
// (sampling/createMessage), elicit (elicitation/create), change_tools (tools/list_changed
// outside any request), bump (updates the subscribable resource fake://counter), whoami
// (the accepted token's claims), forecast (arguments annotated x-mcp-header, mirrored into
// Mcp-Param-* headers under 2026-07-28) and greet (asks for input through an input_required
// result); a prompt, greeting. Options.Stateless and Options.ProtocolVersions make it a
// stateless 2026-07-28 server, dual or 2026-only.
//
// Faults (package faults) sit in front of the gate; [Server.Stats] counts requests by status
// and method, sessions created and deleted, resumed streams, the maximum of concurrent POSTs,
// and the Authorization headers seen. Everything is also reachable over HTTP under /_fake/ for
// the fakecloudrun command; see [Server.ControlHandler].
package fakecloudrun
