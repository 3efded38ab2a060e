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
}

// remoteDelay stands in for the network round trip and service time of a real deployment.
const remoteDelay = 5 * time.Millisecond

func measure(ctx context.Context, o options, dial dialer, out *results, log io.Writer) error {
	// Cold starts. The first is not counted: it pays for loading the binary from disk.
	var colds []time.Duration
	for i := range o.coldRuns + 1 {
		start := time.Now()
		c, err := dial(ctx)
		if err != nil {
			return fmt.Errorf("cold start: %w", err)
		}
		took := time.Since(start)
		if err := c.cs.Close(); err != nil {
			return fmt.Errorf("close after cold start: %w", err)
		}
		if i > 0 {
			colds = append(colds, took)
		}
	}
	out.cold = median(colds)

	c, err := dial(ctx)
	if err != nil {
		return err
	}
	defer c.cs.Close()

	for i := range o.warmup {
		if err := echo(ctx, c.cs, "warm-up "+strconv.Itoa(i), 0); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	if c.pid != 0 {
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
		if out.idleRSS, err = procStatus(c.pid, "VmRSS"); err != nil {
			return err
		}
	}

	var cpu0 time.Duration
	if c.pid != 0 {
		if cpu0, err = procCPU(c.pid); err != nil {
			return err
		}
	}
	lat := make([]time.Duration, 0, o.seqCalls)
	for i := range o.seqCalls {
		start := time.Now()
		if err := echo(ctx, c.cs, "latency "+strconv.Itoa(i), 0); err != nil {
			return fmt.Errorf("latency call %d: %w", i, err)
		}
		lat = append(lat, time.Since(start))
	}
	if c.pid != 0 {
		cpu1, err := procCPU(c.pid)
		if err != nil {
			return err
		}
		out.cpuPerCall = (cpu1 - cpu0) / time.Duration(o.seqCalls)
	}
	slices.Sort(lat)
	out.p50, out.p99 = percentile(lat, 50), percentile(lat, 99)
	fmt.Fprintf(log, "bench:   latency p50 %v p99 %v\n", out.p50, out.p99)

	var remote []time.Duration
	for i := range o.seqCalls / 10 {
		start := time.Now()
		if err := echo(ctx, c.cs, "remote "+strconv.Itoa(i), remoteDelay); err != nil {
			return fmt.Errorf("latency call %d: %w", i, err)
		}
		remote = append(remote, time.Since(start))
	}
	out.remote = median(remote)

	if out.throughput, err = throughput(ctx, c.cs, o.tputCalls, o.concurrency); err != nil {
		return err
	}
	fmt.Fprintf(log, "bench:   throughput %.0f calls/s\n", out.throughput)

	text := fakecloudrun.LargeText(o.largeBytes)
	var larges []time.Duration
	for range o.largeRuns {
		start := time.Now()
		if err := echo(ctx, c.cs, text, 0); err != nil {
			return fmt.Errorf("large echo: %w", err)
		}
		larges = append(larges, time.Since(start))
	}
	out.large = median(larges)
	fmt.Fprintf(log, "bench:   %d MiB echo %v\n", o.largeBytes>>20, out.large)

	if c.pid != 0 {
		if out.peakRSS, err = procStatus(c.pid, "VmHWM"); err != nil {
			return err
		}
		if err := sleep(ctx, 2*time.Second); err != nil {
			return err
		}
		if out.afterRSS, err = procStatus(c.pid, "VmRSS"); err != nil {
			return err
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

// throughput runs n echo calls with concurrency of them in flight at all times.
func throughput(ctx context.Context, cs *mcp.ClientSession, n, concurrency int) (float64, error) {
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
	return float64(n) / took.Seconds(), nil
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
	for _, line := range splitLines(string(b)) {
		if k, v, ok := cut(line, ":"); ok && k == field {
			return strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
		}
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
