// Command mcp-cloudrun-proxy is a local stdio MCP server that relays every message to an
// MCP server on Google Cloud Run, adding a Google ID token to each request.
//
// main only builds the context and hands over to the kong CLI in cli.go; each command lives in
// its own file and is wiring over the proxy, tokens and mcpclientcfg modules.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Stamped at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
