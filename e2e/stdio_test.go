package e2e

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakecloudrun"
)

// initializeRaw performs the MCP handshake over raw stdio.
func initializeRaw(t *testing.T, r *rawProxy) {
	t.Helper()
	r.send(t, rawInitialize)
	resp := r.nextResponse(t)
	if resp["id"] != float64(1) || resp["result"] == nil {
		t.Fatalf("initialize response %v", resp)
	}
	r.send(t, rawInitialized)
}

// TestMalformedStdin: a line that is not JSON gets a parse error with id null and the proxy
// keeps going; ids of later requests come back byte-for-byte (a string id stays a string).
func TestMalformedStdin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	r := e.startRaw(t)
	r.send(t, "this is not json")
	m := r.next(t)
	errObj, _ := m["error"].(map[string]any)
	if _, hasID := m["id"]; !hasID || m["id"] != nil || errObj == nil || errObj["code"] != float64(-32700) {
		t.Errorf("answer to a non-JSON line = %v, want a -32700 error with id null", m)
	}
	initializeRaw(t, r)
	r.send(t, `{"jsonrpc":"2.0","id":"req-ü-7","method":"tools/call","params":{"name":"echo","arguments":{"text":"still here"}}}`)
	resp := r.nextResponse(t)
	if resp["id"] != "req-ü-7" {
		t.Errorf("response id = %#v, want the string id unchanged", resp["id"])
	}
	res, _ := resp["result"].(map[string]any)
	content, _ := res["content"].([]any)
	if len(content) != 1 || content[0].(map[string]any)["text"] != "still here" {
		t.Errorf("result %v", resp)
	}
	if r.stderr.String() == "" {
		t.Error("nothing on stderr with --log-level debug: where do the logs go?")
	}
}

// TestStdinEOFEndsSession: closing stdin makes the proxy DELETE its session and exit 0
// promptly, also with a long call in flight.
func TestStdinEOFEndsSession(t *testing.T) {
	t.Parallel()
	for _, inFlight := range []bool{false, true} {
		name := "idle"
		if inFlight {
			name = "call-in-flight"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{})
			r := e.startRaw(t)
			initializeRaw(t, r)
			if inFlight {
				r.send(t, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x","delay_ms":60000}}}`)
				if _, err := e.crun.WaitFor(ctxTimeout(t, 10*time.Second), func(st fakecloudrun.Stats) bool { return st.ByRPCMethod["tools/call"] == 1 }); err != nil {
					t.Fatal("the call never reached Cloud Run")
				}
			}
			start := time.Now()
			r.stdin.Close()
			select {
			case <-r.done:
			case <-time.After(terminateAfter):
				t.Fatalf("proxy still running %v after stdin EOF\nstderr:\n%s", terminateAfter, tail(r.stderr.String()))
			}
			if code := r.cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("exit code %d after stdin EOF, want 0\nstderr:\n%s", code, tail(r.stderr.String()))
			}
			t.Logf("exited %v after stdin EOF", time.Since(start).Round(time.Millisecond))
			if st := e.crun.Stats(); st.SessionsDeleted != 1 {
				t.Errorf("sessions deleted = %d, want 1 (DELETE with Mcp-Session-Id on EOF)", st.SessionsDeleted)
			}
		})
	}
}

// TestStdoutCarriesOnlyJSONRPC: with debug logging and a session with notifications, every
// stdout line is one JSON-RPC message (next() fails on anything else) and the responses
// are exactly the ones asked for.
func TestStdoutCarriesOnlyJSONRPC(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	r := e.startRaw(t)
	initializeRaw(t, r)
	r.send(t, `{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"slow","arguments":{"steps":3,"interval_ms":10},"_meta":{"progressToken":"p"}}}`)
	r.send(t, `{"jsonrpc":"2.0","id":11,"method":"tools/list"}`)
	r.send(t, `{"jsonrpc":"2.0","id":12,"method":"ping"}`)
	var ids []float64
	progress := 0
	for len(ids) < 3 {
		m := r.next(t)
		if m["method"] == "notifications/progress" {
			progress++
			continue
		}
		id, _ := m["id"].(float64)
		ids = append(ids, id)
	}
	if progress != 3 {
		t.Errorf("%d progress notifications on stdout, want 3", progress)
	}
	got := map[float64]bool{}
	for _, id := range ids {
		got[id] = true
	}
	if diff := cmp.Diff(map[float64]bool{10: true, 11: true, 12: true}, got); diff != "" {
		t.Errorf("response ids (-want +got):\n%s", diff)
	}
}

// TestPlainHTTPOnlyForLoopback: --url http:// is refused for a non-loopback host, with an
// error that says to use https, before anything is contacted.
func TestPlainHTTPOnlyForLoopback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	cmd := exec.Command(proxyBin, "run", "--url", "http://mcp.example.com/mcp")
	cmd.Env = e.setup.Env
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("run accepted a plain-http non-loopback URL")
	}
	if !strings.Contains(string(out), "https") {
		t.Errorf("error output %q does not say to use https", out)
	}
	if st := e.crun.Stats(); len(st.Requests) != 0 || e.google.TotalIssued() != 0 {
		t.Errorf("something was contacted: %d requests, %d tokens", len(st.Requests), e.google.TotalIssued())
	}
}

// TestBatchPassThrough: a 2025-03-26 client may send a JSON-RPC batch; the proxy relays it and
// every request in it gets its response (as one array line or as separate lines).
func TestBatchPassThrough(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	r := e.startRaw(t)
	r.send(t, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	if resp := r.nextResponse(t); resp["result"] == nil {
		t.Fatalf("initialize: %v", resp)
	}
	r.send(t, rawInitialized)
	r.send(t, `[{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"b1"}}},{"jsonrpc":"2.0","id":3,"method":"ping"}]`)
	got := map[float64]bool{}
	deadline := time.After(30 * time.Second)
	for len(got) < 2 {
		select {
		case line, ok := <-r.lines:
			if !ok {
				t.Fatalf("stdout closed; got %v\nstderr:\n%s", got, tail(r.stderr.String()))
			}
			var msgs []map[string]any
			if err := json.Unmarshal(line, &msgs); err != nil {
				var one map[string]any
				if err := json.Unmarshal(line, &one); err != nil {
					t.Fatalf("stdout line is not JSON: %q", line)
				}
				msgs = []map[string]any{one}
			}
			for _, m := range msgs {
				if id, ok := m["id"].(float64); ok && m["error"] == nil {
					got[id] = true
				} else if m["error"] != nil {
					t.Errorf("error response in batch: %v", m)
					got[-1] = true
				}
			}
		case <-deadline:
			t.Fatalf("batch responses within 30 s: got %v\nstderr:\n%s", got, tail(r.stderr.String()))
		}
	}
	if diff := cmp.Diff(map[float64]bool{2: true, 3: true}, got); diff != "" {
		t.Errorf("batch responses (-want +got):\n%s", diff)
	}
}
