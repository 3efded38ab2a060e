package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// floorRelayFlag makes the bench binary the minimal relay of floorRelay, on stdin and stdout;
// the URL and the bearer token come in the environment, never in argv.
const floorRelayFlag = "--floor-relay"

const (
	envFloorURL   = "MCP_BENCH_FLOOR_URL"
	envFloorToken = "MCP_BENCH_FLOOR_TOKEN"
)

func runFloorRelay() error {
	return floorRelay(os.Getenv(envFloorURL), os.Getenv(envFloorToken))
}

// dialFloor starts the minimal relay against the world's server and connects through it.
func (w *world) dialFloor(ctx context.Context) (*conn, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the bench binary: %w", err)
	}
	token, err := fetchIDToken(ctx, http.DefaultClient, w.key, w.origin)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, floorRelayFlag)
	cmd.Env = append(os.Environ(), envFloorURL+"="+w.url, envFloorToken+"="+token)
	cmd.Stderr = os.Stderr
	cs, err := newClient().Connect(ctx, &mcp.CommandTransport{Command: cmd}, &mcp.ClientSessionOptions{ProtocolVersion: protocolVersion})
	if err != nil {
		return nil, fmt.Errorf("connect through the minimal relay: %w", err)
	}
	return &conn{cs: cs, pid: cmd.Process.Pid}, nil
}

// measureFloor times sequential echo calls through the minimal relay, alternating slices with
// the direct client, into floorP50 and floorCPU of the proxy's results.
func measureFloor(ctx context.Context, o options, w *world, direct, viaProxy *results, log io.Writer) error {
	fmt.Fprintf(log, "bench: %d sequential calls through a minimal relay ...\n", o.seqCalls)
	d := &path{name: "direct", dial: w.dialDirect, res: &results{}}
	f := &path{name: "minimal relay", dial: w.dialFloor, res: &results{}}
	paths := []*path{d, f}
	closeAll, err := connect(ctx, o, paths, "")
	if err != nil {
		return err
	}
	defer closeAll()
	if err := alternate(ctx, paths, o.seqCalls, 0, latencies); err != nil {
		return err
	}
	direct.floorP50 = median(d.lat)
	viaProxy.floorP50 = median(f.lat)
	viaProxy.floorCPU = f.cpu / time.Duration(len(f.lat))
	return nil
}
