//go:build unix

package e2e

import (
	"bufio"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakecloudrun"
)

// waitStderr polls the proxy's stderr until it contains want, failing after a deadline.
func waitStderr(t *testing.T, stderr *lockedBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("stderr never said %q:\n%s", want, tail(stderr.String()))
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline, not a wait for an event
	}
}

// TestSecondSignalExitsAtOnce: the first SIGINT or SIGTERM starts a clean shutdown, which
// waits for a call in flight; a second one ends the process at once with 128+signal.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{})
			r := e.startRaw(t)
			initializeRaw(t, r)
			r.send(t, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x","delay_ms":60000}}}`)
			if _, err := e.crun.WaitFor(ctxTimeout(t, 10*time.Second), func(st fakecloudrun.Stats) bool { return st.ByRPCMethod["tools/call"] == 1 }); err != nil {
				t.Fatal("the call never reached Cloud Run")
			}
			if err := r.cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			waitStderr(t, r.stderr, "shutdown requested")
			if err := r.cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-r.done:
			case <-time.After(terminateAfter):
				t.Fatalf("proxy still running %v after a second %v\nstderr:\n%s", terminateAfter, tc.sig, tail(r.stderr.String()))
			}
			if got := r.cmd.ProcessState.ExitCode(); got != tc.code {
				t.Errorf("exit code %d after a second %v, want %d\nstderr:\n%s", got, tc.sig, tc.code, tail(r.stderr.String()))
			}
			if want := tc.sig.String() + " again; exiting now"; !strings.Contains(r.stderr.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, tail(r.stderr.String()))
			}
		})
	}
}

// TestClosedStdoutIsNotSIGPIPE: when the client closes its end of stdout, the next answer
// the proxy writes must fail with an error it logs, not kill it silently with SIGPIPE.
func TestClosedStdoutIsNotSIGPIPE(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	cmd := e.proxyCmd(nil, nil)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = outW
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close() // the proxy holds the only write end
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-done:
		case <-time.After(terminateAfter):
			_ = cmd.Process.Kill()
			<-done
		}
		checkNoLeak(t, e, stderr.String())
	})

	if _, err := io.WriteString(stdin, rawInitialize+"\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(outR).ReadString('\n'); err != nil || !strings.Contains(line, `"id":1`) {
		t.Fatalf("initialize answer %q, %v\nstderr:\n%s", line, err, tail(stderr.String()))
	}
	outR.Close() // the client stops reading: the next write is to a broken pipe
	if _, err := io.WriteString(stdin, rawInitialized+"\n"+`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`+"\n"); err != nil {
		t.Fatal(err)
	}
	// The client is gone: the proxy logs it and shuts down by itself, stdin still open.
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("proxy still running after its stdout was closed\nstderr:\n%s", tail(stderr.String()))
	}
	if code := cmd.ProcessState.ExitCode(); code == 0 {
		t.Errorf("exit code 0 after stdout failed, want non-zero\nstderr:\n%s", tail(stderr.String()))
	}
	if n := e.crun.Stats().SessionsDeleted; n != 1 {
		t.Errorf("%d sessions deleted upstream, want 1", n)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Errorf("proxy killed by %v\nstderr:\n%s", ws.Signal(), tail(stderr.String()))
	}
	if n := strings.Count(stderr.String(), "cannot write to stdout"); n != 1 {
		t.Errorf("the failed write was logged %d times, want once:\n%s", n, tail(stderr.String()))
	}
}
