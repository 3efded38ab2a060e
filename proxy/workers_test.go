package proxy

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func (ws *workers) idleCount() int {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return len(ws.idle)
}

// After a burst, a steady load keeps reusing the same worker and the rest of the burst's
// workers end once idle: the pool follows the load down. (Handing jobs round-robin to every
// idle worker kept all fifty alive: each got a job every half second.)
func TestWorkersShrinkAfterABurstUnderSteadyLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		ws := &workers{ctx: ctx, idleAfter: time.Second}

		const burst = 50
		release := make(chan struct{})
		var started sync.WaitGroup
		started.Add(burst)
		for range burst {
			ws.run(func() { started.Done(); <-release })
		}
		started.Wait()
		close(release)
		synctest.Wait()
		if n := ws.idleCount(); n != burst {
			t.Fatalf("%d idle workers after the burst, want %d", n, burst)
		}

		// One job every 10 ms for 3 s.
		for range 300 {
			done := make(chan struct{})
			ws.run(func() { close(done) })
			<-done
			time.Sleep(10 * time.Millisecond)
		}
		synctest.Wait()
		if n := ws.idleCount(); n != 1 {
			t.Fatalf("%d idle workers after 3 s of one job at a time, want 1", n)
		}

		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n := ws.idleCount(); n != 0 {
			t.Fatalf("%d idle workers after 2 s without jobs, want 0", n)
		}
	})
}

func TestWorkersEndWithTheirContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		ws := &workers{ctx: ctx, idleAfter: time.Hour}
		for range 5 {
			done := make(chan struct{})
			ws.run(func() { close(done) })
			<-done
			synctest.Wait() // the worker is back on the idle stack before the next job
		}
		synctest.Wait()
		if n := ws.idleCount(); n != 1 {
			t.Fatalf("%d idle workers after five jobs one at a time, want 1", n)
		}
		cancel()
		synctest.Wait() // a worker still blocked at the end fails synctest.Test
		if n := ws.idleCount(); n != 0 {
			t.Fatalf("%d idle workers after the context ended, want 0", n)
		}
	})
}
