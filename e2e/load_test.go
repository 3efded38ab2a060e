package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestThousandInFlight: 1000 tools/call requests written to the proxy's stdin at once, each
// held 300 ms by the server so that they are all in flight together: every one is answered
// once, with its own id and its own text, and afterwards the proxy's threads and open
// descriptors come back down (the in-process goroutine count is checked by
// proxy.TestGoroutinesReturnToBaselineAfter1000Requests).
func TestThousandInFlight(t *testing.T) {
	t.Parallel()
	const n = 1000
	e := newEnv(t, envOpts{})
	r := e.startRaw(t, "--log-level", "info")
	r.send(t, rawInitialize)
	if m := r.nextResponse(t); m["result"] == nil {
		t.Fatalf("initialize: %v", m)
	}
	r.send(t, rawInitialized)
	// One call first, so the baseline has a warm session and connection.
	r.send(t, `{"jsonrpc":"2.0","id":"warm","method":"tools/call","params":{"name":"echo","arguments":{"text":"warm"}}}`)
	r.nextResponse(t)
	pid := r.cmd.Process.Pid
	base, err := sampleProc(pid, 0)
	if err != nil {
		t.Skipf("needs Linux /proc: %v", err)
	}

	start := time.Now()
	go func() {
		for i := 1; i <= n; i++ {
			line := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":"call %d","delay_ms":300}}}`, i, i)
			if _, err := r.stdin.Write([]byte(line + "\n")); err != nil {
				t.Errorf("write request %d: %v", i, err)
				return
			}
		}
	}()
	var peak procSample
	seen := map[int]bool{}
	for len(seen) < n {
		m := r.nextResponse(t)
		if len(seen)%100 == 0 {
			if s, err := sampleProc(pid, time.Since(start)); err == nil && s.fds > peak.fds {
				peak = s
			}
		}
		raw, _ := json.Marshal(m["id"])
		var id int
		if err := json.Unmarshal(raw, &id); err != nil || id < 1 || id > n {
			t.Fatalf("response with an unexpected id %s: %v", raw, m)
		}
		if seen[id] {
			t.Fatalf("id %d answered twice", id)
		}
		seen[id] = true
		res, _ := m["result"].(map[string]any)
		content, _ := res["content"].([]any)
		if len(content) != 1 {
			t.Fatalf("id %d: no result content: %v", id, m)
		}
		if text, _ := content[0].(map[string]any)["text"].(string); text != fmt.Sprintf("call %d", id) {
			t.Fatalf("id %d answered with %q", id, text)
		}
	}
	took := time.Since(start)
	st := e.crun.Stats()
	t.Logf("%d calls answered in %v; server saw at most %d POSTs at once; proxy before %v, at peak %v", n, took.Round(time.Millisecond), st.MaxInFlight, base, peak)
	// The relay admits 512 requests at once (proxy.Config.MaxInFlight: a client that stops
	// reading stdout must not make it hold every answer); well over half of those at once shows
	// that it does not serialise them.
	if want := 512 * 3 / 4; st.MaxInFlight < want {
		t.Errorf("the server saw at most %d calls at once, want >= %d: the proxy serialises requests", st.MaxInFlight, want)
	}
	if got := st.ByRPCMethod["tools/call"]; got != n+1 {
		t.Errorf("tools/call POSTed %d times, want %d", got, n+1)
	}

	// Idle connections beyond the pool's size are closed when they are returned, and the
	// pool keeps at most 256 per host; threads stay bounded by GOMAXPROCS plus the blocked.
	deadline := time.Now().Add(20 * time.Second)
	var after procSample
	for {
		if after, err = sampleProc(pid, time.Since(start)); err != nil {
			t.Fatal(err)
		}
		if after.fds <= base.fds+256+8 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // polling with a deadline
	}
	t.Logf("proxy after the load %v", after)
	if after.fds > base.fds+256+8 {
		t.Errorf("open descriptors %d after the load, baseline %d: connections leak", after.fds, base.fds)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		t.Errorf("proxy died under load: %v", err)
	}
}
