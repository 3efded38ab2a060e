package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakecloudrun"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// results are what one path measured. RSS values are in KiB and zero for the direct client,
// which has no process of its own.
type results struct {
	p50, p99   time.Duration
	throughput float64 // calls per second
	large      time.Duration
	cold       time.Duration
	idleRSS    int64
	peakRSS    int64
	afterRSS   int64
	// hop is the p50 of a line the proxy answers itself (a parse error): two pipe crossings
	// and the proxy's own handling, the floor of any stdio relay. Zero for the direct client.
	hop time.Duration
	// remote is the p50 of echo calls the server takes remoteDelay to answer, as a nearby
	// Cloud Run region would: what a user feels.
	remote time.Duration
	// cpuPerCall is the proxy's CPU time (user+system) per sequential call; zero for direct.
	cpuPerCall time.Duration
	// switchesPerCall is how many times the proxy's threads went to sleep or were preempted
	// per sequential call: on a virtual machine each costs tens of microseconds.
	switchesPerCall float64
	// statelessP50 is the p50 of sequential echo calls against a stateless server speaking
	// only 2026-07-28; zero when not measured.
	statelessP50 time.Duration
	// floorP50 is the p50 of sequential echo calls through the minimal relay of floorRelay
	// (in the proxy's results) and of the direct client in alternating slices with it;
	// floorCPU is that relay's CPU time per call.
	floorP50, floorCPU time.Duration
	// apart is latency and throughput with the server in its own process; nil when not
	// measured (the server already runs apart with --url).
	apart *apartResults
}

// measureStateless times sequential echo calls against a server speaking only 2026-07-28,
// statelessly, on both paths in alternating slices.
func measureStateless(ctx context.Context, o options, paths []*path, log io.Writer) error {
	n := o.seqCalls / 2
	fmt.Fprintf(log, "bench: %d sequential calls against a stateless 2026-07-28 server ...\n", n)
	closeAll, err := connect(ctx, o, paths, " (2026-07-28)")
	if err != nil {
		return err
	}
	defer closeAll()
	for _, p := range paths {
		if v := p.conn.cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
			return fmt.Errorf("%s: negotiated %q with the 2026-07-28 server", p.name, v)
		}
	}
	if err := alternate(ctx, paths, n, 0, latencies); err != nil {
		return err
	}
	for _, p := range paths {
		p.res.statelessP50 = median(p.lat)
	}
	return nil
}

// remoteDelay stands in for the network round trip and service time of a real deployment.
const remoteDelay = 5 * time.Millisecond

// A path is one way of calling the server, with what was measured on it.
type path struct {
	name string
	dial dialer
	res  *results
	conn *conn
	lat  []time.Duration // sequential echo calls
	rem  []time.Duration // sequential echo calls with remoteDelay
	cold []time.Duration
	big  []time.Duration
	tput time.Duration // total time of the throughput rounds
	cpu  time.Duration // the proxy's CPU time during the sequential calls
	// switches counts the proxy's context switches during the sequential calls.
	switches int64
}

// blocks is how many slices each measurement is cut into. The two paths take turns slice by
// slice, so that a burst of load from elsewhere on the machine falls on both alike.
const blocks = 10

// measure runs every measurement on both paths, alternating between them.
func measure(ctx context.Context, o options, paths []*path, log io.Writer) error {
	// Cold starts. The first of each path is not counted: it pays for loading from disk.
	for i := range o.coldRuns + 1 {
		for _, p := range paths {
			start := time.Now()
			c, err := p.dial(ctx)
			if err != nil {
				return fmt.Errorf("%s: cold start: %w", p.name, err)
			}
			took := time.Since(start)
			if err := c.cs.Close(); err != nil {
				return fmt.Errorf("%s: close after cold start: %w", p.name, err)
			}
			if i > 0 {
				p.cold = append(p.cold, took)
			}
		}
	}

	closeAll, err := connect(ctx, o, paths, "")
	if err != nil {
		return err
	}
	defer closeAll()
	if err := sleep(ctx, time.Second); err != nil {
		return err
	}
	for _, p := range paths {
		if p.conn.pid != 0 {
			var err error
			if p.res.idleRSS, err = procStatus(p.conn.pid, "VmRSS"); err != nil {
				return err
			}
		}
	}

	fmt.Fprintf(log, "bench: %d sequential calls, then %d with %v of server time ...\n", o.seqCalls, o.seqCalls/10, remoteDelay)
	if err := alternate(ctx, paths, o.seqCalls, 0, latencies); err != nil {
		return err
	}
	if err := alternate(ctx, paths, o.seqCalls/10, remoteDelay, func(p *path) *[]time.Duration { return &p.rem }); err != nil {
		return err
	}

	fmt.Fprintf(log, "bench: %d calls with %d in flight ...\n", o.tputCalls, o.concurrency)
	if err := alternateThroughput(ctx, o, paths, ""); err != nil {
		return err
	}

	fmt.Fprintf(log, "bench: %d MiB echoes ...\n", o.largeBytes>>20)
	text := fakecloudrun.LargeText(o.largeBytes)
	for range o.largeRuns {
		for _, p := range paths {
			start := time.Now()
			if err := echo(ctx, p.conn.cs, text, 0); err != nil {
				return fmt.Errorf("%s: large echo: %w", p.name, err)
			}
			p.big = append(p.big, time.Since(start))
		}
	}

	for _, p := range paths {
		r := p.res
		slices.Sort(p.lat)
		r.p50, r.p99 = percentile(p.lat, 50), percentile(p.lat, 99)
		r.remote = median(p.rem)
		r.throughput = float64(o.tputCalls/blocks*blocks) / p.tput.Seconds()
		r.large = median(p.big)
		r.cold = median(p.cold)
		if n := len(p.lat); n > 0 && p.conn.pid != 0 {
			r.cpuPerCall = p.cpu / time.Duration(n)
			r.switchesPerCall = float64(p.switches) / float64(n)
		}
		fmt.Fprintf(log, "bench: %s: p50 %v p99 %v, %.0f calls/s, large %v, cold %v\n", p.name, r.p50, r.p99, r.throughput, r.large, r.cold)
	}
	for _, p := range paths {
		if p.conn.pid == 0 {
			continue
		}
		var err error
		if p.res.peakRSS, err = procStatus(p.conn.pid, "VmHWM"); err != nil {
			return err
		}
		if err := sleep(ctx, 2*time.Second); err != nil {
			return err
		}
		if p.res.afterRSS, err = procStatus(p.conn.pid, "VmRSS"); err != nil {
			return err
		}
	}
	return nil
}

// sequential makes n echo calls one after the other, answered after delay, and appends
// their durations to into; without delay it also adds the proxy's CPU time to p.cpu.
func (p *path) sequential(ctx context.Context, block, n int, delay time.Duration, into *[]time.Duration) error {
	pid := p.conn.pid
	var cpu0 time.Duration
	var sw0 int64
	if pid != 0 && delay == 0 {
		var err error
		if cpu0, err = procCPU(pid); err != nil {
			return err
		}
		if sw0, err = procSwitches(pid); err != nil {
			return err
		}
	}
	for i := range n {
		start := time.Now()
		if err := echo(ctx, p.conn.cs, fmt.Sprintf("block %d call %d", block, i), delay); err != nil {
			return fmt.Errorf("%s: sequential call: %w", p.name, err)
		}
		*into = append(*into, time.Since(start))
	}
	if pid != 0 && delay == 0 {
		cpu1, err := procCPU(pid)
		if err != nil {
			return err
		}
		sw1, err := procSwitches(pid)
		if err != nil {
			return err
		}
		p.cpu += cpu1 - cpu0
		p.switches += sw1 - sw0
	}
	return nil
}

// connect dials every path and warms it up; closeAll ends the sessions opened. what, when
// not empty, tells this measurement's errors apart.
func connect(ctx context.Context, o options, paths []*path, what string) (closeAll func(), err error) {
	closeAll = func() {
		for _, p := range paths {
			if p.conn != nil {
				p.conn.cs.Close()
			}
		}
	}
	for _, p := range paths {
		name := p.name + what
		if p.conn, err = p.dial(ctx); err != nil {
			closeAll()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for i := range o.warmup {
			if err := echo(ctx, p.conn.cs, "warm-up "+strconv.Itoa(i), 0); err != nil {
				closeAll()
				return nil, fmt.Errorf("%s: warm-up: %w", name, err)
			}
		}
	}
	return closeAll, nil
}

// alternate makes n sequential calls on every path, taking turns slice by slice, each
// answered after delay, into the durations into picks.
func alternate(ctx context.Context, paths []*path, n int, delay time.Duration, into func(*path) *[]time.Duration) error {
	for b := range blocks {
		for _, p := range paths {
			if err := p.sequential(ctx, b, n/blocks, delay, into(p)); err != nil {
				return err
			}
		}
	}
	return nil
}

func latencies(p *path) *[]time.Duration { return &p.lat }

// alternateThroughput runs the throughput measurement on every path, taking turns slice by
// slice, adding each path's time to its tput.
func alternateThroughput(ctx context.Context, o options, paths []*path, what string) error {
	for b := range blocks {
		for _, p := range paths {
			took, err := throughput(ctx, p.conn.cs, o.tputCalls/blocks, o.concurrency)
			if err != nil {
				return fmt.Errorf("%s%s: block %d: %w", p.name, what, b, err)
			}
			p.tput += took
		}
	}
	return nil
}

// echo calls the echo tool, answered after delay, and checks that the text came back whole.
func echo(ctx context.Context, cs *mcp.ClientSession, text string, delay time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: fakecloudrun.EchoIn{Text: text, DelayMS: int(delay.Milliseconds())}})
	if err != nil {
		return err
	}
	if res.IsError || len(res.Content) != 1 {
		return fmt.Errorf("echo answered with an error or %d contents", len(res.Content))
	}
	if tc, ok := res.Content[0].(*mcp.TextContent); !ok || tc.Text != text {
		return fmt.Errorf("echo answered with other content (%T)", res.Content[0])
	}
	return nil
}

// throughput runs n echo calls with concurrency of them in flight at all times and returns
// how long they took.
func throughput(ctx context.Context, cs *mcp.ClientSession, n, concurrency int) (time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, concurrency)
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				if err := echo(ctx, cs, "throughput "+strconv.FormatInt(i, 10), 0); err != nil {
					errs <- fmt.Errorf("throughput call %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return took, nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// percentile of sorted ds by the nearest-rank method.
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(i, 0)]
}

// procStatus reads a "kB" field such as VmRSS or VmHWM of process pid.
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read the proxy's memory use (Linux /proc only): %w", err)
	}
	if v, ok := statusField(string(b), field); ok {
		return strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, field)
}

// procCPU is the user plus system CPU time process pid has used (Linux, 100 Hz ticks).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read the proxy's CPU time (Linux /proc only): %w", err)
	}
	// The command name, in parentheses, may hold spaces; the fields after it are fixed.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// procSwitches is the number of voluntary and involuntary context switches of all of process
// pid's threads (Linux).
func procSwitches(pid int) (int64, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, fmt.Errorf("read the proxy's threads (Linux /proc only): %w", err)
	}
	var total int64
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if err != nil {
			continue // the thread ended
		}
		for _, k := range []string{"voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"} {
			v, _ := statusField(string(b), k)
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/task/%s/status: %s: %w", pid, task.Name(), k, err)
			}
			total += n
		}
	}
	return total, nil
}

// statusField is the value of the first "field:" line of a /proc file such as status or
// cpuinfo.
func statusField(status, field string) (string, bool) {
	for _, line := range splitLines(status) {
		if k, v, ok := cut(line, ":"); ok && k == field {
			return v, true
		}
	}
	return "", false
}

func splitLines(s string) []string { return strings.Split(s, "\n") }

// cut splits a "key: value" line and trims both.
func cut(line, sep string) (string, string, bool) {
	k, v, ok := strings.Cut(line, sep)
	return strings.TrimSpace(k), strings.TrimSpace(v), ok
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// tailBuffer keeps the last few KiB of a process's stderr, to show when it fails.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 8192 {
		t.b = t.b[len(t.b)-8192:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
