//go:build unix

package tokens

import (
	"os/exec"
	"syscall"
)

// killProcessGroupOnCancel runs cmd in a process group of its own and kills the whole group
// when its context ends: gcloud is a shell script that starts Python as a child, and killing
// only the script would leave Python running.
func killProcessGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
