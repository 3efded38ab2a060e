package faults

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// errCut is what writes to a cut stream return.
var errCut = errors.New("faults: stream cut")

// A cutWriter decides, when the headers go out, whether this SSE response is to be cut, and
// then cuts it after a delay or after N message events: writes fail from then on and the
// handler's context is cancelled so that it returns.
type cutWriter struct {
	http.ResponseWriter
	c       *Controller
	method  string
	msg     message // the POSTed message the stream answers
	resumed bool
	cancel  func()

	mu      sync.Mutex
	decided bool
	armed   bool
	cut     Cut
	events  int
	dead    bool
	// finished is set once the handler returned; kill does nothing then.
	finished bool
	timer    *time.Timer
}

func (w *cutWriter) WriteHeader(status int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.decideLocked(status)
	w.ResponseWriter.WriteHeader(status)
}

func (w *cutWriter) decideLocked(status int) {
	if w.decided {
		return
	}
	w.decided = true
	ct := w.Header().Get("Content-Type")
	if status != http.StatusOK || !strings.HasPrefix(ct, "text/event-stream") {
		return
	}
	k, ok := w.c.takeCut(w.method, w.msg, w.resumed)
	if !ok {
		return
	}
	w.armed, w.cut = true, k
	if k.After > 0 || k.AfterEvents == 0 {
		w.timer = time.AfterFunc(k.After, w.kill)
	}
}

func (w *cutWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.decideLocked(http.StatusOK)
	if w.dead {
		return 0, errCut
	}
	n, err := w.ResponseWriter.Write(p)
	if w.armed && w.cut.AfterEvents > 0 && bytes.HasPrefix(p, []byte("event: message")) {
		w.events++
		if w.events >= w.cut.AfterEvents {
			if f, ok := w.ResponseWriter.(http.Flusher); ok {
				f.Flush()
			}
			w.dead = true
			w.c.countCut()
			w.cancel()
		}
	}
	return n, err
}

func (w *cutWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dead {
		return
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *cutWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// kill is the timer path of a cut.
func (w *cutWriter) kill() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dead || w.finished {
		return // the response is over: its writer may already serve another request
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	w.dead = true
	w.c.countCut()
	w.cancel()
}

// finish runs on the handler goroutine after the handler returned. For an abrupt cut it
// aborts the connection, so the client sees the body end mid-stream; for a clean cut it
// optionally adds a retry hint and lets the response end normally.
func (w *cutWriter) finish() {
	w.mu.Lock()
	if w.timer != nil {
		w.timer.Stop()
	}
	// A timer that fired already may be waiting for the lock; it must not touch the writer.
	w.finished = true
	dead, cut := w.dead, w.cut
	w.mu.Unlock()
	if !dead {
		return
	}
	if cut.Abrupt {
		panic(http.ErrAbortHandler)
	}
	if cut.Retry > 0 {
		fmt.Fprintf(w.ResponseWriter, "retry: %d\n\n", cut.Retry.Milliseconds())
		if f, ok := w.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
	}
}
