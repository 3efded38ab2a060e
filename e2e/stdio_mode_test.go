//go:build linux

package e2e

import (
	"bufio"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// blockingPipe is a pipe in blocking mode, as MCP clients hand their servers; the test keeps
// both descriptors, so it can read the open file's mode while the proxy shares it.
func blockingPipe(t *testing.T) (r, w *os.File, rfd, wfd int) {
	t.Helper()
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	r, w = os.NewFile(uintptr(p[0]), "r"), os.NewFile(uintptr(p[1]), "w")
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w, p[0], p[1]
}

func nonblocking(t *testing.T, fd int) bool {
	t.Helper()
	flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFL, 0)
	if errno != 0 {
		t.Fatalf("fcntl: %v", errno)
	}
	return flags&syscall.O_NONBLOCK != 0
}

// The proxy reads and writes its stdio pipes in nonblocking mode (through Go's poller, with
// raw calls); the open files are shared with the client, so at exit they are blocking again,
// as the client handed them over.
func TestStdioPipesAreBlockingAgainAtExit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	cmd := e.proxyCmd(nil, nil)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	inR, inW, inFD, _ := blockingPipe(t)
	outR, outW, _, outFD := blockingPipe(t)
	cmd.Stdin, cmd.Stdout = inR, outW
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	if _, err := io.WriteString(inW, rawInitialize+"\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil || !strings.Contains(line, `"id":1`) || !strings.Contains(line, `"result"`) {
		t.Fatalf("initialize answer %q, %v\nstderr:\n%s", line, err, tail(stderr.String()))
	}
	if !nonblocking(t, inFD) || !nonblocking(t, outFD) {
		t.Fatalf("while relaying, stdin nonblocking=%v, stdout nonblocking=%v; want both (the poller serves them)", nonblocking(t, inFD), nonblocking(t, outFD))
	}

	inW.Close() // the client ends the session
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("proxy exit: %v\nstderr:\n%s", err, tail(stderr.String()))
		}
	case <-time.After(terminateAfter):
		_ = cmd.Process.Kill()
		t.Fatal("the proxy did not exit at the end of stdin")
	}
	if nonblocking(t, inFD) || nonblocking(t, outFD) {
		t.Fatalf("after exit, stdin nonblocking=%v, stdout nonblocking=%v; want both blocking again", nonblocking(t, inFD), nonblocking(t, outFD))
	}
	checkNoLeak(t, e, stderr.String())
}
