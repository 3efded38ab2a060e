//go:build !unix

package tokens

import "os/exec"

// killProcessGroupOnCancel leaves the default (kill the process itself) where there are no
// Unix process groups; WaitDelay still bounds the wait for its children.
func killProcessGroupOnCancel(*exec.Cmd) {}
