package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/faults"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// soakDuration is E2E_SOAK_DURATION (a Go duration), 60 s by default: `make test` runs the
// short soak, `make soak` the 10-minute one.
func soakDuration(t *testing.T) time.Duration {
	t.Helper()
	v := os.Getenv("E2E_SOAK_DURATION")
	if v == "" {
		return 60 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 10*time.Second {
		t.Fatalf("E2E_SOAK_DURATION=%q: want a duration of at least 10s", v)
	}
	return d
}

// procSample is what /proc says about a process.
type procSample struct {
	at      time.Duration
	rssKiB  int64
	threads int64
	fds     int
}

func (s procSample) String() string {
	return fmt.Sprintf("+%v rss=%.1fMB threads=%d fds=%d", s.at.Round(time.Second), float64(s.rssKiB)*1024/1e6, s.threads, s.fds)
}

// sampleProc reads VmRSS, Threads and the number of open descriptors of pid (Linux).
func sampleProc(pid int, at time.Duration) (procSample, error) {
	s := procSample{at: at}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
		switch k {
		case "VmRSS":
			s.rssKiB, _ = strconv.ParseInt(v, 10, 64)
		case "Threads":
			s.threads, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return s, err
	}
	s.fds = len(fds)
	return s, nil
}

// TestSoak: 16 callers through the proxy binary for E2E_SOAK_DURATION with 8 s tokens, while
// 503s, SSE cuts and session expiry are injected every quarter of the run (at most every
// minute): no call may fail, and the proxy's RSS, threads and descriptors must end flat.
//
// Sessions are expired between calls (the callers pause for it): a request in flight when its
// session vanishes may have run, so the proxy rightly reports it rather than replaying it;
// what the soak checks is that every later call gets through on a new session.
func TestSoak(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs Linux /proc to watch the proxy's memory")
	}
	t.Parallel()
	dur := soakDuration(t)
	every := min(dur/4, time.Minute)
	e := newEnv(t, envOpts{lifetime: 8 * time.Second})
	p := e.startProxy(t, proxyOpts{args: []string{"--refresh-margin", "2", "--log-level", "info"}})
	pid := p.cmd.Process.Pid
	start := time.Now()

	var (
		pause              sync.RWMutex // held for writing while sessions are expired
		calls, failures    atomic.Int64
		failMu             sync.Mutex
		failMsgs           []string
		stop               = make(chan struct{})
		callers, injectors sync.WaitGroup
	)
	fail := func(msg string) {
		failures.Add(1)
		failMu.Lock()
		defer failMu.Unlock()
		if len(failMsgs) < 10 {
			failMsgs = append(failMsgs, fmt.Sprintf("+%v %s", time.Since(start).Round(time.Millisecond), msg))
		}
	}

	// 16 callers: most echo, a few run a slow tool with progress so that cut response
	// streams have something to resume. Pacing keeps the load realistic on a shared machine.
	for c := range 16 {
		callers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond): // pacing, not synchronisation
				}
				pause.RLock()
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				var (
					res  *mcp.CallToolResult
					err  error
					want string
				)
				if c%4 == 0 {
					params := &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"steps": 3, "interval_ms": 30}}
					params.SetProgressToken(fmt.Sprintf("c%d-%d", c, i))
					want = "done after 3 steps"
					res, err = p.cs.CallTool(ctx, params)
				} else {
					want = fmt.Sprintf("caller %d call %d", c, i)
					res, err = p.cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": want}})
				}
				cancel()
				pause.RUnlock()
				calls.Add(1)
				switch {
				case err != nil:
					fail(fmt.Sprintf("caller %d call %d: %v", c, i, err))
				case res.IsError || len(res.Content) == 0:
					fail(fmt.Sprintf("caller %d call %d: error result %+v", c, i, res.Content))
				default:
					if tc, ok := res.Content[0].(*mcp.TextContent); !ok || tc.Text != want {
						fail(fmt.Sprintf("caller %d call %d: got %+v, want %q", c, i, res.Content[0], want))
					}
				}
			}
		})
	}

	// Faults, a third of the interval apart: 503s, then cut streams, then expired sessions.
	fc := e.crun.Faults()
	injectors.Go(func() {
		tick := time.NewTicker(every / 3)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			switch n % 3 {
			case 0:
				fc.FailNext(faults.Failure{Status: 503, Count: 4, RetryAfter: time.Second}) // with a 401 and a renewal on top, within the 7 tries a message gets
			case 1:
				fc.CutStreams(faults.Cut{Method: "POST", AfterEvents: 1, Abrupt: true, Count: 4})
				fc.CutStreams(faults.Cut{Method: "POST", AfterEvents: 1, Count: 4})
				// Echo answers in its first event, so those cuts may need no resuming; a slow
				// call's first event is progress, so this one always does.
				fc.CutStreams(faults.Cut{Method: "POST", Tool: "slow", AfterEvents: 1})
				fc.CutStreams(faults.Cut{Method: "GET", After: 50 * time.Millisecond, Abrupt: true})
			case 2:
				pause.Lock()
				e.crun.ExpireSessions()
				pause.Unlock()
			}
		}
	})

	// Watch the process.
	var samples []procSample
	sample := func() {
		s, err := sampleProc(pid, time.Since(start))
		if err != nil {
			t.Errorf("read /proc of the proxy: %v", err)
			return
		}
		samples = append(samples, s)
	}
	watch := time.NewTicker(min(5*time.Second, dur/20))
	deadline := time.After(dur)
loop:
	for {
		select {
		case <-watch.C:
			sample()
		case <-deadline:
			break loop
		}
	}
	watch.Stop()
	close(stop)
	callers.Wait()
	injectors.Wait()
	sample()

	st := e.crun.Stats()
	t.Logf("%v: %d calls, %d failed; injected %v, streams cut %d, resumed %d, sessions created %d expired %d, distinct tokens %d, rejected %v",
		dur, calls.Load(), failures.Load(), st.Injected, st.StreamsCut, st.StreamsResumed, st.SessionsCreated, st.SessionsExpired, len(st.Authorizations), st.Rejected)
	for _, s := range samples {
		t.Logf("proxy %v", s)
	}
	if n := failures.Load(); n > 0 {
		t.Errorf("%d of %d calls failed, first ones:\n%s\nproxy stderr:\n%s", n, calls.Load(), strings.Join(failMsgs, "\n"), tail(p.stderr.String()))
	}
	if calls.Load() < int64(dur/time.Second) {
		t.Errorf("only %d calls in %v", calls.Load(), dur)
	}
	if st.Injected[503] == 0 || st.StreamsCut == 0 || st.StreamsResumed == 0 || st.SessionsExpired == 0 {
		t.Errorf("a fault never fired: injected %v, streams cut %d, resumed %d, sessions expired %d", st.Injected, st.StreamsCut, st.StreamsResumed, st.SessionsExpired)
	}
	if wantTokens := int(dur / (8 * time.Second)); len(st.Authorizations) < wantTokens {
		t.Errorf("Cloud Run saw %d distinct tokens over %v of 8 s tokens, want >= %d", len(st.Authorizations), dur, wantTokens)
	}
	checkFlat(t, samples, every)
}

// checkFlat compares the end of the run with its first interval: a leak of memory, threads or
// connections grows with time; a warm heap, a connection pool and GC timing do not.
func checkFlat(t *testing.T, samples []procSample, warm time.Duration) {
	t.Helper()
	var early procSample
	for i, s := range samples {
		if i > 0 && s.at > warm {
			break
		}
		early.rssKiB = max(early.rssKiB, s.rssKiB)
		early.threads = max(early.threads, s.threads)
		early.fds = max(early.fds, s.fds)
	}
	if early.rssKiB == 0 || len(samples) < 3 {
		t.Errorf("too few samples to judge: %v", samples)
		return
	}
	last := samples[len(samples)-1]
	if last.rssKiB > early.rssKiB*3/2+4*1024 {
		t.Errorf("RSS grew from %.1f MB (first %v) to %.1f MB at the end", float64(early.rssKiB)*1024/1e6, warm, float64(last.rssKiB)*1024/1e6)
	}
	if last.threads > early.threads+8 { // the runtime never gives threads back; a leak is unbounded
		t.Errorf("threads grew from %d (first %v) to %d at the end", early.threads, warm, last.threads)
	}
	if last.fds > early.fds+16 {
		t.Errorf("open descriptors grew from %d (first %v) to %d at the end", early.fds, warm, last.fds)
	}
}
