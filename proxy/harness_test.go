package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTokens hands out "secret-token-N" and counts fetches and rejections.
type fakeTokens struct {
	mu       sync.Mutex
	n        int
	current  string
	fetches  int
	rejected []string
}

func (f *fakeTokens) Authorize(_ context.Context, h http.Header) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.current == "" {
		f.n++
		f.fetches++
		f.current = fmt.Sprintf("secret-token-%d", f.n)
	}
	h.Set("Authorization", "Bearer "+f.current)
	return nil
}

func (f *fakeTokens) Rejected(h http.Header) {
	f.mu.Lock()
	defer f.mu.Unlock()
	token := strings.TrimPrefix(h.Get("Authorization"), "Bearer ")
	f.rejected = append(f.rejected, token)
	if token == f.current {
		f.current = ""
	}
}

func (f *fakeTokens) counts() (fetches, rejections int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fetches, len(f.rejected)
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness runs a Relay in process against an httptest server, playing the stdio client.
type harness struct {
	t      *testing.T
	srv    *httptest.Server
	tokens *fakeTokens
	logs   *syncBuffer
	stdin  *io.PipeWriter
	lines  chan []byte
	done   chan error
	cancel context.CancelFunc
}

func startRelay(t *testing.T, handler http.Handler, tweak ...func(*Config)) *harness {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	h := &harness{t: t, srv: srv, tokens: &fakeTokens{}, logs: &syncBuffer{}, lines: make(chan []byte, 4096), done: make(chan error, 1)}
	cfg := Config{
		URL:            srv.URL + "/mcp",
		Auth:           h.tokens,
		UserAgent:      "mcp-cloudrun-proxy/test",
		Logger:         slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		RetryWaitMin:   10 * time.Millisecond,
		RetryWaitMax:   50 * time.Millisecond,
		ReconnectDelay: 10 * time.Millisecond,
		ShutdownGrace:  2 * time.Second,
	}
	for _, f := range tweak {
		f(&cfg)
	}
	relay, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	h.stdin = stdinW
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		err := relay.Run(ctx, stdinR, stdoutW)
		stdoutW.Close()
		h.done <- err
	}()
	go func() {
		br := bufio.NewReaderSize(stdoutR, 1<<20)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				h.lines <- line
			}
			if err != nil {
				close(h.lines)
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		stdinW.Close()
		select {
		case <-h.done:
		case <-time.After(10 * time.Second):
			t.Error("relay did not stop")
		}
	})
	return h
}

// send writes one line to the relay's stdin.
func (h *harness) send(line string) {
	h.t.Helper()
	if _, err := io.WriteString(h.stdin, line+"\n"); err != nil {
		h.t.Fatalf("write stdin: %v", err)
	}
}

// next returns the next stdout line, without its newline, failing after a deadline.
func (h *harness) next() string {
	h.t.Helper()
	select {
	case line, ok := <-h.lines:
		if !ok {
			h.t.Fatal("stdout closed")
		}
		if !bytes.HasSuffix(line, []byte("\n")) {
			h.t.Fatalf("stdout line without newline: %q", line)
		}
		return string(line[:len(line)-1])
	case <-time.After(15 * time.Second):
		h.t.Fatal("no stdout line within 15s")
	}
	return ""
}

// noMore checks that nothing more is written to stdout before the relay exits.
func (h *harness) closeAndWait() {
	h.t.Helper()
	h.stdin.Close()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Fatalf("Run: %v", err)
		}
		h.done <- nil
	case <-time.After(15 * time.Second):
		h.t.Fatal("relay did not return after stdin EOF")
	}
}

// rest drains stdout after the relay has exited.
func (h *harness) rest() []string {
	var out []string
	for line := range h.lines {
		out = append(out, strings.TrimSuffix(string(line), "\n"))
	}
	return out
}

// jsonHandler answers every POST with the JSON body respond returns; 202 when it returns nil.
func jsonHandler(respond func(r *http.Request, body []byte) []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		body, _ := io.ReadAll(r.Body)
		out := respond(r, body)
		if out == nil {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	}
}

// sseWriter writes server-sent events and flushes each one.
type sseWriter struct {
	w http.ResponseWriter
}

func startSSE(w http.ResponseWriter) *sseWriter {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	return &sseWriter{w: w}
}

func (s *sseWriter) event(id, data string) {
	if id != "" {
		fmt.Fprintf(s.w, "id: %s\n", id)
	}
	fmt.Fprintf(s.w, "data: %s\n\n", data)
	s.w.(http.Flusher).Flush()
}

// waitFor polls cond every 10 ms until it holds, failing after 10 s with what it waited for.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
	}
}
