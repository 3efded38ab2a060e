package faults_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/faults"
)

// sse writes five message events, 20 ms apart, until the request context ends.
func sse(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	for i := range 5 {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
		if _, err := fmt.Fprintf(w, "event: message\nid: s_%d\ndata: {\"n\":%d}\n\n", i, i); err != nil {
			return
		}
		w.(http.Flusher).Flush()
	}
}

func TestFailNextMatches(t *testing.T) {
	var c faults.Controller
	srv := httptest.NewServer(c.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })))
	defer srv.Close()
	c.FailNext(faults.Failure{Count: 2, Status: 503, RetryAfter: 1500 * time.Millisecond, RPCMethod: "tools/call"})
	c.FailNext(faults.Failure{Status: 401, Method: "GET"})
	do := func(method, body string) string {
		req, _ := http.NewRequest(method, srv.URL, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return fmt.Sprintf("%d %s %v", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("WWW-Authenticate") != "")
	}
	got := []string{
		do("POST", `{"jsonrpc":"2.0","id":1,"method":"ping"}`),
		do("POST", `{"jsonrpc":"2.0","id":2,"method":"tools/call"}`),
		do("GET", ""),
		do("POST", `{"jsonrpc":"2.0","id":3,"method":"tools/call"}`),
		do("POST", `{"jsonrpc":"2.0","id":4,"method":"tools/call"}`),
	}
	want := []string{"200  false", "503 2 false", "401  true", "503 2 false", "200  false"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[int]int{503: 2, 401: 1}, c.Stats().Injected); diff != "" {
		t.Errorf("injected (-want +got):\n%s", diff)
	}
}

func TestCuts(t *testing.T) {
	tests := []struct {
		desc       string
		cut        faults.Cut
		post       string // the message POSTed; a GET when empty
		wantEvents int
		wantErr    bool
	}{
		{"abrupt after 2 events", faults.Cut{AfterEvents: 2, Abrupt: true}, "", 2, true},
		{"clean after 2 events", faults.Cut{AfterEvents: 2}, "", 2, false},
		{"clean after 50ms", faults.Cut{After: 50 * time.Millisecond}, "", 2, false},
		{"other method", faults.Cut{AfterEvents: 1, Method: "POST"}, "", 5, false},
		{"its tool", faults.Cut{AfterEvents: 1, Tool: "slow"}, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow"}}`, 1, false},
		{"other tool", faults.Cut{AfterEvents: 1, Tool: "slow"}, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`, 5, false},
		{"not a tool call", faults.Cut{AfterEvents: 1, Tool: "slow"}, `{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"slow"}}`, 5, false},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			var c faults.Controller
			srv := httptest.NewServer(c.Wrap(http.HandlerFunc(sse)))
			defer srv.Close()
			c.CutStreams(tc.cut)
			var resp *http.Response
			var err error
			if tc.post != "" {
				resp, err = http.Post(srv.URL, "application/json", strings.NewReader(tc.post))
			} else {
				resp, err = http.Get(srv.URL)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			events := 0
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "data: ") {
					events++
				}
			}
			gotErr := sc.Err() != nil
			// A time-based cut can land either side of an event; allow one either way.
			if tc.cut.After > 0 {
				if events < 1 || events > 3 {
					t.Errorf("events = %d, want about 2", events)
				}
			} else if events != tc.wantEvents {
				t.Errorf("events = %d, want %d", events, tc.wantEvents)
			}
			if gotErr != tc.wantErr {
				t.Errorf("read error = %v (%v), want error %v", gotErr, sc.Err(), tc.wantErr)
			}
			if gotErr && sc.Err() != io.ErrUnexpectedEOF && !strings.Contains(sc.Err().Error(), "unexpected EOF") {
				t.Logf("abrupt cut surfaced as %v", sc.Err())
			}
		})
	}
}
