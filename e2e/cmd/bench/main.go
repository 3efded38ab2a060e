// Command bench is what `make bench` runs: it measures mcp-cloudrun-proxy against the best
// possible baseline, the same go-sdk MCP client talking Streamable HTTP directly to the same
// server with a bearer token, in the same run.
//
// It starts one fake Cloud Run and one fake Google in process (packages fakecloudrun and
// fakegoogle), then for each of the two paths measures echo latency (p50/p99 of sequential
// calls after a warm-up), throughput (calls in flight at once), an 8 MiB echo round trip and
// the cold start (process spawn to initialize result, including the first token); for the
// proxy also its peak and idle RSS, read from /proc. Then it runs the same fakes in a child
// process of its own (the bench binary with --serve-fakes) and measures latency and
// throughput again: in process, the direct client's round trips never leave its own Go
// runtime, which no real deployment offers. It prints one markdown table with the ratios
// proxy/direct and the targets of issue 15 (judged on the in-process rows, as set).
//
//	go run ./cmd/bench --proxy ../bin/mcp-cloudrun-proxy
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if len(os.Args) == 2 && (os.Args[1] == serveFakesFlag || os.Args[1] == floorRelayFlag) {
		// A child of the bench: the fakes apart, or the minimal relay.
		serve := func() error { return serveFakes(ctx, os.Stdin, os.Stdout) }
		if os.Args[1] == floorRelayFlag {
			serve = runFloorRelay
		}
		err := serve()
		stop()
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		return
	}
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// options are the knobs of a run; the defaults are what issue 9 asks for.
type options struct {
	proxyBin    string
	proxyEnv    []string
	url         string
	envFile     string
	seqCalls    int
	warmup      int
	tputCalls   int
	concurrency int
	largeBytes  int
	largeRuns   int
	coldRuns    int
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.proxyBin, "proxy", "bin/mcp-cloudrun-proxy", "the mcp-cloudrun-proxy binary to measure")
	fs.Func("proxy-env", "KEY=VALUE added to the proxy's environment, e.g. GOMAXPROCS=1 or GOGC=50 (repeatable)", func(v string) error {
		if !strings.Contains(v, "=") {
			return errors.New("want KEY=VALUE")
		}
		o.proxyEnv = append(o.proxyEnv, v)
		return nil
	})
	fs.StringVar(&o.url, "url", "", "measure against a fakecloudrun command already running at this MCP URL instead of an in-process one (needs --env-file)")
	fs.StringVar(&o.envFile, "env-file", "", "that fakecloudrun's env_file (credentials of kind service-account-key)")
	fs.IntVar(&o.seqCalls, "calls", 2000, "sequential echo calls measured for latency")
	fs.IntVar(&o.warmup, "warmup", 300, "echo calls before measuring")
	fs.IntVar(&o.tputCalls, "throughput-calls", 10000, "echo calls of the throughput run")
	fs.IntVar(&o.concurrency, "concurrency", 64, "calls in flight during the throughput run")
	fs.IntVar(&o.largeBytes, "large-bytes", 8<<20, "size of the text of the large echo")
	fs.IntVar(&o.largeRuns, "large-runs", 5, "large echo round trips (the median is reported)")
	fs.IntVar(&o.coldRuns, "cold-runs", 7, "cold starts (the median is reported)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := os.Stat(o.proxyBin); err != nil {
		return fmt.Errorf("proxy binary: %w (run make build first, or pass --proxy)", err)
	}
	// The proxy runs in a temporary directory, as an MCP client may start it anywhere.
	abs, err := filepath.Abs(o.proxyBin)
	if err != nil {
		return fmt.Errorf("proxy binary: %w", err)
	}
	o.proxyBin = abs
	if o.seqCalls < 100 || o.concurrency < 1 || o.tputCalls < o.concurrency*blocks || o.largeRuns < 1 || o.coldRuns < 1 {
		return fmt.Errorf("need --calls >= 100, --concurrency >= 1, --throughput-calls >= %d x --concurrency, --large-runs >= 1, --cold-runs >= 1", blocks)
	}

	var w *world
	where := "in process"
	if o.url != "" {
		if o.envFile == "" {
			return errors.New("--url needs --env-file")
		}
		w, err = newExternalWorld(o.url, o.envFile)
		where = "in its own process"
	} else {
		w, err = newWorld()
	}
	if err != nil {
		return err
	}
	defer w.close()
	fmt.Fprintf(stderr, "bench: fake Cloud Run at %s (%s); %s\n", w.url, where, machine())

	var direct, viaProxy results
	paths := []*path{
		{name: "direct", dial: w.dialDirect, res: &direct},
		{name: "proxy", dial: w.dialProxy(o.proxyBin, o.proxyEnv), res: &viaProxy},
	}
	start := time.Now()
	if err := measure(ctx, o, paths, stderr); err != nil {
		return err
	}
	if w.stateless != nil {
		stateless := []*path{
			{name: "direct", dial: func(ctx context.Context) (*conn, error) {
				return w.dialDirectAt(ctx, w.stateless.URL(), w.stateless.Origin(), "")
			}, res: &direct},
			{name: "proxy", dial: w.dialProxyAt(o.proxyBin, o.proxyEnv, w.stateless.URL(), ""), res: &viaProxy},
		}
		if err := measureStateless(ctx, o, stateless, stderr); err != nil {
			return err
		}
	}
	if runtime.GOOS == "linux" { // the floor relay's raw system calls are Linux's
		if err := measureFloor(ctx, o, w, &direct, &viaProxy, stderr); err != nil {
			return err
		}
	}
	if o.url == "" {
		if err := measureServerApart(ctx, o, &direct, &viaProxy, stderr); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "bench: measured in %v\n", time.Since(start).Round(time.Millisecond))
	if viaProxy.hop, err = w.stdioFloor(o.proxyBin, o.proxyEnv, o.seqCalls); err != nil {
		return fmt.Errorf("stdio floor: %w", err)
	}
	printTable(stdout, o, direct, viaProxy)
	return nil
}

// measureServerApart repeats latency and throughput with the fakes in a child process.
func measureServerApart(ctx context.Context, o options, direct, viaProxy *results, log io.Writer) error {
	a, err := startApart(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	paths := []*path{
		{name: "direct", dial: a.world.dialDirect, res: direct},
		{name: "proxy", dial: a.world.dialProxy(o.proxyBin, o.proxyEnv), res: viaProxy},
	}
	return measureApart(ctx, o, paths, log)
}

// machine describes where the numbers were measured.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if v, ok := statusField(string(b), "model name"); ok {
			model = v
		}
	}
	return fmt.Sprintf("%s/%s, %d CPUs (%s), %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), model, runtime.Version())
}
