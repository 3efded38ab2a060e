package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tidwall/gjson"
)

// Benchmarks of the relay in process, for profiling (go test -bench . -cpuprofile/-memprofile):
// the server echoes the request's params as an SSE event, as the go-sdk server answers a tool
// call, so the relay does all it does for a real call except the token and the process hop.

// echoSSEHandler answers initialize with a session and every request with one SSE event
// whose result holds the request's params.
func echoSSEHandler(json bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		body, _ := io.ReadAll(r.Body)
		id := gjson.GetBytes(body, "id")
		if !id.Exists() {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		if gjson.GetBytes(body, "method").String() == "initialize" {
			w.Header().Set("Mcp-Session-Id", "bench-session")
		}
		params := gjson.GetBytes(body, "params").Raw
		msg := make([]byte, 0, len(params)+64)
		msg = append(msg, `{"jsonrpc":"2.0","id":`...)
		msg = append(msg, id.Raw...)
		msg = append(msg, `,"result":`...)
		msg = append(msg, params...)
		msg = append(msg, '}')
		if json {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(msg)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "event: message\nid: 1_0\ndata: ")
		_, _ = w.Write(msg)
		_, _ = io.WriteString(w, "\n\n")
	}
}

// benchRelay is a Relay in process with pipes for stdin and stdout.
type benchRelay struct {
	stdin  *io.PipeWriter
	stdout *bufio.Reader
	done   chan error
}

func startBenchRelay(b *testing.B, handler http.Handler) *benchRelay {
	b.Helper()
	srv := httptest.NewServer(handler)
	b.Cleanup(srv.Close)
	relay, err := New(Config{URL: srv.URL + "/mcp", Auth: &fakeTokens{}})
	if err != nil {
		b.Fatal(err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	br := &benchRelay{stdin: inW, stdout: bufio.NewReaderSize(outR, 1<<20), done: make(chan error, 1)}
	go func() {
		err := relay.Run(context.Background(), inR, outW)
		outW.Close()
		br.done <- err
	}()
	b.Cleanup(func() {
		inW.Close()
		go func() { _, _ = io.Copy(io.Discard, outR) }()
		if err := <-br.done; err != nil {
			b.Error(err)
		}
	})
	br.roundTrip(b, []byte(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`))
	br.write(b, []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`))
	return br
}

func (br *benchRelay) write(b *testing.B, line []byte) {
	if _, err := br.stdin.Write(append(line, '\n')); err != nil {
		b.Fatal(err)
	}
}

func (br *benchRelay) read(b *testing.B) []byte {
	line, err := br.stdout.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		rest, err2 := br.stdout.ReadBytes('\n')
		line, err = append(bytes.Clone(line), rest...), err2
	}
	if err != nil {
		b.Fatal(err)
	}
	return line
}

func (br *benchRelay) roundTrip(b *testing.B, line []byte) []byte {
	br.write(b, line)
	return br.read(b)
}

func toolCall(id int, text string) []byte {
	return fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":%q}}}`, id, text)
}

func BenchmarkRelayEchoSSE(b *testing.B)  { benchEcho(b, false, "hello") }
func BenchmarkRelayEchoJSON(b *testing.B) { benchEcho(b, true, "hello") }
func BenchmarkRelayEcho8MiB(b *testing.B) {
	benchEcho(b, false, strings.Repeat("0123456789abcdef", 8<<20/16))
}

func benchEcho(b *testing.B, json bool, text string) {
	br := startBenchRelay(b, echoSSEHandler(json))
	line := toolCall(1, text)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if out := br.roundTrip(b, line); len(out) < len(text) {
			b.Fatalf("short answer: %d bytes", len(out))
		}
	}
}

// BenchmarkRelayEchoParallel keeps 64 calls in flight, as the throughput run of make bench.
func BenchmarkRelayEchoParallel(b *testing.B) {
	br := startBenchRelay(b, echoSSEHandler(false))
	b.ReportAllocs()
	var wg sync.WaitGroup
	const inFlight = 64
	sem := make(chan struct{}, inFlight)
	wg.Go(func() {
		for i := 0; i < b.N; i++ {
			sem <- struct{}{}
			br.write(b, toolCall(i+2, "hello"))
		}
	})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		br.read(b)
		<-sem
	}
	wg.Wait()
}

func BenchmarkReadLines8MiB(b *testing.B) {
	input := []byte(strings.Repeat("x", 8<<20) + "\n")
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	for b.Loop() {
		if err := readLines(bytes.NewReader(input), func([]byte) bool { return true }); err != nil {
			b.Fatal(err)
		}
	}
}
