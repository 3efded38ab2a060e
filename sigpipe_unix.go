//go:build unix

package main

import (
	"os"
	"os/signal"
	"syscall"
)

// notifyBrokenPipe makes a write to a closed stdout fail with EPIPE instead of killing the
// process: by default the Go runtime dies of SIGPIPE on a broken pipe at file descriptor 1
// or 2, silently and without ending the upstream session. Once SIGPIPE is notified, the
// write returns the error and the relay shuts down cleanly. Unlike ignoring the signal,
// this is not inherited by child processes (gcloud).
func notifyBrokenPipe() {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
}
