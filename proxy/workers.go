package proxy

import (
	"context"
	"sync"
	"time"
)

// workers runs each message's handling on a goroutine that already relayed one: a goroutine
// has grown its stack to what relaying needs, and a new goroutine per message grew (copied)
// its stack every time, 5 % of the relay's CPU. The most recently idle worker takes the next
// job, so under a steady load the same few stay busy and the others, idle for idleAfter, end:
// the pool follows the load down after a burst instead of keeping its peak.
type workers struct {
	ctx       context.Context // workers end when it is done
	idleAfter time.Duration

	mu   sync.Mutex
	idle []*worker // a stack: the last one pushed is the next to work
}

type worker struct {
	jobs chan func() // capacity 1: handing a job over never blocks
}

// run hands job to the most recently idle worker, or starts one.
func (ws *workers) run(job func()) {
	ws.mu.Lock()
	if n := len(ws.idle); n > 0 {
		w := ws.idle[n-1]
		ws.idle = ws.idle[:n-1]
		ws.mu.Unlock()
		w.jobs <- job
		return
	}
	ws.mu.Unlock()
	go ws.loop(&worker{jobs: make(chan func(), 1)}, job)
}

func (ws *workers) loop(w *worker, job func()) {
	timer := time.NewTimer(ws.idleAfter)
	defer timer.Stop()
	for {
		job()
		ws.mu.Lock()
		ws.idle = append(ws.idle, w)
		ws.mu.Unlock()
		timer.Reset(ws.idleAfter)
		select {
		case job = <-w.jobs:
			continue
		case <-timer.C:
		case <-ws.ctx.Done():
		}
		if !ws.leave(w) {
			job = <-w.jobs // popped just now: its job is on the way
			continue
		}
		return
	}
}

// leave takes w off the idle stack, unless run popped it already.
func (ws *workers) leave(w *worker) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for i, x := range ws.idle {
		if x == w {
			ws.idle = append(ws.idle[:i], ws.idle[i+1:]...)
			return true
		}
	}
	return false
}
