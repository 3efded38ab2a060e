// Package faults injects the failures a Cloud Run front end and network produce into an
// http.Handler: the next N requests answered with a status (401, 403, 404, 429 or 503 with
// Retry-After), and SSE response streams cut after a delay or a number of events, either
// abruptly (the connection is dropped mid-stream) or cleanly (the response ends early).
//
// A [Controller] holds the plan; [Controller.Wrap] applies it. Tests drive a Controller
// directly; fakecloudrun also exposes it over HTTP. The package knows nothing of MCP beyond
// reading the JSON-RPC method of a POST body to match failures by method.
package faults
