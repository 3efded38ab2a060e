package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// serveFakesFlag makes the bench binary a server only: it runs the fakes of newWorld, says
// where on stdout, and serves until its stdin closes (when the measuring bench exits).
const serveFakesFlag = "--serve-fakes"

// serveFakes is the child's side of startApart: it serves until stdin closes or ctx ends (a
// signal), and removes its credentials directory either way.
func serveFakes(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	w, err := newWorld()
	if err != nil {
		return err
	}
	defer w.close()
	envFile := filepath.Join(w.dir, "env")
	if err := os.WriteFile(envFile, []byte(strings.Join(w.env, "\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("write the env file: %w", err)
	}
	fmt.Fprintf(stdout, "url=%s env_file=%s\n", w.url, envFile)
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		close(closed)
	}()
	select {
	case <-closed:
	case <-ctx.Done():
	}
	return nil
}

// apart is the fake Cloud Run in a process of its own, a child of the bench.
type apart struct {
	cmd   *exec.Cmd
	stdin io.Closer
	world *world
}

// startApart runs the fakes in a child process, as Cloud Run always runs the server apart
// from the client: in process, the direct client's round trips never leave its own runtime,
// while every MCP client in use reaches the server across processes or machines.
func startApart(ctx context.Context) (*apart, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the bench binary: %w", err)
	}
	cmd := exec.CommandContext(ctx, self, serveFakesFlag)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) } // let it clean up
	cmd.WaitDelay = 10 * time.Second
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("the fakes' process stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("the fakes' process stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the fakes' process: %w", err)
	}
	a := &apart{cmd: cmd, stdin: stdin}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		a.close()
		return nil, fmt.Errorf("the fakes' process said nothing: %w", err)
	}
	var url, envFile string
	for _, f := range strings.Fields(line) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "url":
			url = v
		case "env_file":
			envFile = v
		}
	}
	if url == "" || envFile == "" {
		a.close()
		return nil, fmt.Errorf("the fakes' process said %q, want url= and env_file= fields", line)
	}
	if a.world, err = newExternalWorld(url, envFile); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

func (a *apart) close() {
	if a.world != nil {
		a.world.close()
	}
	a.stdin.Close()
	done := make(chan struct{})
	go func() { _ = a.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = a.cmd.Process.Kill()
		<-done
	}
}

// measureApart times sequential echo calls and the throughput run again with the server in
// its own process, on both paths in alternating slices, into each result's apart figures.
func measureApart(ctx context.Context, o options, paths []*path, log io.Writer) error {
	fmt.Fprintf(log, "bench: %d sequential calls and %d with %d in flight, the server in its own process ...\n", o.seqCalls, o.tputCalls, o.concurrency)
	closeAll, err := connect(ctx, o, paths, " (server apart)")
	if err != nil {
		return err
	}
	defer closeAll()
	if err := alternate(ctx, paths, o.seqCalls, 0, latencies); err != nil {
		return err
	}
	if err := alternateThroughput(ctx, o, paths, " (server apart)"); err != nil {
		return err
	}
	for _, p := range paths {
		slices.Sort(p.lat)
		p.res.apart = &apartResults{
			p50:        percentile(p.lat, 50),
			throughput: float64(o.tputCalls/blocks*blocks) / p.tput.Seconds(),
		}
		if p.conn.pid != 0 {
			p.res.apart.cpuPerCall = p.cpu / time.Duration(len(p.lat))
		}
	}
	return nil
}

// apartResults are what a path measured with the server in its own process.
type apartResults struct {
	p50        time.Duration
	throughput float64
	cpuPerCall time.Duration // zero for the direct client
}
