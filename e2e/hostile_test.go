//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// hostileServer answers initialize like an MCP server and tools/call by the tool's name with
// what an attacker (or a broken server) could send.
func hostileServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	deep := bytes.Repeat([]byte("["), 10_000_000)
	filler := strings.Repeat("x", 50_000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		body, _ := io.ReadAll(r.Body)
		id := gjson.GetBytes(body, "id").Raw
		switch gjson.GetBytes(body, "method").String() {
		case "initialize":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"hostile","version":"1"}}}`, id)
		case "tools/call":
			calls.Add(1)
			switch gjson.GetBytes(body, "params.name").String() {
			case "deep-json":
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(deep)
			case "deep-sse":
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = w.Write([]byte("data: "))
				_, _ = w.Write(deep)
				_, _ = w.Write([]byte("\n\n"))
			case "lying-length":
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Length", "2147483000")
				_, _ = w.Write([]byte(`{"jsonrpc"`))
				if hj, ok := w.(http.Hijacker); ok {
					if c, _, err := hj.Hijack(); err == nil {
						c.Close()
					}
				}
			default:
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":%q}]}}`, id, filler)
			}
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// hostileProxy is the binary started against a hostile server, its session initialized.
type hostileProxy struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr *lockedBuffer
}

// startHostile starts the binary against url with the credentials of e and completes the
// handshake; cleanup closes stdin and waits for the exit.
func startHostile(t *testing.T, e *env, url string) *hostileProxy {
	t.Helper()
	args := append([]string{"run", "--url", url}, e.setup.Args...)
	cmd := exec.Command(proxyBin, args...)
	cmd.Env = e.setup.Env
	p := &hostileProxy{cmd: cmd, stderr: &lockedBuffer{}}
	cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdout = bufio.NewReaderSize(out, 1<<20)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(terminateAfter):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	p.send(t, []byte(rawInitialize))
	p.next(t)
	p.send(t, []byte(rawInitialized))
	return p
}

func (p *hostileProxy) send(t *testing.T, line []byte) {
	t.Helper()
	if _, err := p.stdin.Write(append(line, '\n')); err != nil {
		t.Fatalf("write stdin: %v\nstderr:\n%s", err, tail(p.stderr.String()))
	}
}

func (p *hostileProxy) next(t *testing.T) string {
	t.Helper()
	line, err := p.stdout.ReadString('\n')
	if err != nil {
		t.Fatalf("read stdout: %v\nstderr:\n%s", err, tail(p.stderr.String()))
	}
	return line
}

// procKB reads a VmRSS or VmHWM figure of pid in kB.
func procKB(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// Ten million "[" from the client, or from the server as JSON or as an event, cost an error
// answer each, not the process (before: fatal error: stack overflow).
func TestDeepNestingBothWaysIsAnsweredNotFatal(t *testing.T) {
	e := newEnv(t, envOpts{})
	srv, _ := hostileServer(t)
	p := startHostile(t, e, srv.URL+"/mcp")

	p.send(t, bytes.Repeat([]byte("["), 10_000_000))
	if got := p.next(t); !strings.Contains(got, `"id":null`) || !strings.Contains(got, "-32700") {
		t.Errorf("answer to 10 000 000 [ on stdin: %.200s, want a -32700 parse error with id null", got)
	}
	for i, tool := range []string{"deep-json", "deep-sse"} {
		p.send(t, []byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q}}`, 10+i, tool)))
		if got := p.next(t); !strings.Contains(got, fmt.Sprintf(`"id":%d,"error"`, 10+i)) {
			t.Errorf("answer to %s: %.300s, want an error for its id", tool, got)
		}
	}
	p.send(t, []byte(`{"jsonrpc":"2.0","id":20,"method":"tools/call","params":{"name":"echo"}}`))
	if got := p.next(t); !strings.Contains(got, `"id":20,"result"`) {
		t.Errorf("the relay did not go on: %.200s", got)
	}
	if hwm := procKB(t, p.cmd.Process.Pid, "VmHWM"); hwm > 64<<10 {
		t.Errorf("peak RSS %d kB, want under 64 MB", hwm)
	}
}

// A server claiming a 2 GB body gets no 2 GB buffer: each such answer is an error for its id.
func TestContentLengthIsNotTrustedForAllocation(t *testing.T) {
	e := newEnv(t, envOpts{})
	srv, _ := hostileServer(t)
	p := startHostile(t, e, srv.URL+"/mcp")
	const n = 50
	for i := range n {
		p.send(t, []byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"lying-length"}}`, 100+i)))
	}
	for range n {
		if got := p.next(t); !strings.Contains(got, `"error"`) {
			t.Errorf("answer %.200s, want an error", got)
		}
	}
	if hwm := procKB(t, p.cmd.Process.Pid, "VmHWM"); hwm > 64<<10 {
		t.Errorf("peak RSS %d kB after %d answers claiming 2 GB, want under 64 MB", hwm, n)
	}
}

// A client that stops reading stdout: the relay stops reading stdin instead of holding every
// answer (before: 4000 answers of 50 KB took RSS from 12 MB to 305 MB), and every answer
// still arrives once the client reads again.
func TestMemoryIsBoundedWhenStdoutIsNotRead(t *testing.T) {
	e := newEnv(t, envOpts{})
	srv, calls := hostileServer(t)
	p := startHostile(t, e, srv.URL+"/mcp")

	const n = 4000
	var written atomic.Int64
	go func() {
		for i := range n {
			line := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo"}}`+"\n", 1000+i)
			if _, err := io.WriteString(p.stdin, line); err != nil {
				return
			}
			written.Add(1)
		}
	}()
	// Wait until the relay stops taking requests: the server's count stands still.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	last, still := int64(-1), 0
	for still < 20 && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond) // polling a counter, with a deadline
		if c := calls.Load(); c == last {
			still++
		} else {
			last, still = c, 0
		}
	}
	rss := procKB(t, p.cmd.Process.Pid, "VmRSS")
	t.Logf("stdout unread: %d requests written, %d reached the server, proxy RSS %d kB", written.Load(), calls.Load(), rss)
	if calls.Load() >= n {
		t.Errorf("all %d requests reached the server while stdout was not read: nothing held stdin back", n)
	}
	if rss > 100<<10 {
		t.Errorf("RSS %d kB with stdout unread, want under 100 MB", rss)
	}
	seen := map[int64]bool{}
	for len(seen) < n {
		var m struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal([]byte(p.next(t)), &m); err != nil {
			t.Fatal(err)
		}
		if seen[m.ID] {
			t.Fatalf("id %d answered twice", m.ID)
		}
		seen[m.ID] = true
	}
}
