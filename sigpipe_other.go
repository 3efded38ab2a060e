//go:build !unix

package main

// notifyBrokenPipe does nothing where there is no SIGPIPE: writes to a closed pipe already
// fail with an error.
func notifyBrokenPipe() {}
