// Command mcp-cloudrun-proxy is a local stdio MCP server that relays every message to an
// MCP server on Google Cloud Run, adding a Google ID token to each request.
//
// main only builds the context and hands over to the kong CLI in cli.go; each command lives in
// its own file and is wiring over the proxy, tokens and mcpclientcfg modules.
package main

import (
	"context"
	"fmt"
	"io"
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
	notifyBrokenPipe()
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go onSignals(sigs, cancel, os.Stderr)
	code := execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	signal.Stop(sigs)
	os.Exit(code)
}

// onSignals turns the first SIGINT or SIGTERM into a clean shutdown (ctx is cancelled: the
// relay finishes what is in flight and ends the session) and a second one into an immediate
// exit, for the user whose Ctrl-C seems to hang on an unresponsive server.
func onSignals(sigs <-chan os.Signal, cancel context.CancelCauseFunc, stderr io.Writer) {
	first := <-sigs
	cancel(fmt.Errorf("%v signal received", first))
	second := <-sigs
	fmt.Fprintf(stderr, "mcp-cloudrun-proxy: %v again; exiting now without waiting for requests in flight or ending the session\n", second)
	os.Exit(signalExitCode(second))
}

// signalExitCode is 128 plus the signal's number (130 for SIGINT, 143 for SIGTERM), as a
// shell reports a process the signal killed: the exit was abrupt, and the parent can tell
// which signal caused it.
func signalExitCode(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}
