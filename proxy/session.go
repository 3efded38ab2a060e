package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// A session is one upstream MCP session. It is never changed once installed: a new session
// replaces it whole.
type session struct {
	id              string
	protocolVersion string

	// ctx ends when the session is replaced or the relay stops; its standalone stream
	// ends with it.
	ctx           context.Context
	cancel        context.CancelFunc
	streamStarted atomic.Bool
	// ready is closed once the standalone stream had its first answer (or gave up).
	ready     chan struct{}
	readyOnce sync.Once
}

// markReady says the standalone stream's first request has its outcome.
func (s *session) markReady() { s.readyOnce.Do(func() { close(s.ready) }) }

// sessionState holds the current session and what is needed to start a new one the way the
// client started the first. Its lock is never held across network calls.
type sessionState struct {
	mu              sync.Mutex
	base            context.Context
	cur             *session
	renewal         *renewal // the renewal of cur under way, if any
	initialize      []byte   // the client's initialize request, exactly as sent
	initializedNote []byte   // the client's notifications/initialized, exactly as sent
}

// A renewal is one attempt to replace an expired session, shared by every request that found
// the session gone.
type renewal struct {
	done chan struct{}
	next *session
	err  error
}

// initializedFallback is sent after a replayed initialize if the client's own notification
// was never seen.
var initializedFallback = []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)

func (st *sessionState) init(base context.Context) {
	st.base = base
	st.cur = st.newSession("")
}

func (st *sessionState) newSession(id string) *session {
	ctx, cancel := context.WithCancel(st.base)
	return &session{id: id, ctx: ctx, cancel: cancel, ready: make(chan struct{})}
}

func (st *sessionState) current() *session {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.cur
}

// install makes s the current session, started by the client's initialize request, and
// returns the session it replaces.
func (st *sessionState) install(s *session, initialize []byte) (replaced *session) {
	st.mu.Lock()
	defer st.mu.Unlock()
	replaced = st.cur
	replaced.cancel()
	st.cur = s
	st.initialize = initialize
	return replaced
}

func (st *sessionState) rememberInitialized(note []byte) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.initializedNote = note
}

// stopStreams ends the current session's standalone stream.
func (st *sessionState) stopStreams() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.cur.cancel()
}

// renewSession replaces expired with a new session by replaying the client's initialize
// request and initialized notification; the replayed initialize response is not shown to the
// client, which already has one. Concurrent callers that saw the same expired session share
// one renewal; other traffic goes on meanwhile.
func (r *Relay) renewSession(ctx context.Context, expired *session) (*session, error) {
	st := &r.sess
	st.mu.Lock()
	if st.cur != expired {
		cur := st.cur
		st.mu.Unlock()
		return cur, nil
	}
	if rn := st.renewal; rn != nil {
		st.mu.Unlock()
		select {
		case <-rn.done:
			return rn.next, rn.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if st.initialize == nil {
		st.mu.Unlock()
		return nil, errors.New("the client never sent initialize, so there is nothing to replay")
	}
	rn := &renewal{done: make(chan struct{})}
	st.renewal = rn
	initialize, note := st.initialize, st.initializedNote
	st.mu.Unlock()

	expired.cancel()
	next, err := r.replayHandshake(ctx, initialize, note)

	st.mu.Lock()
	st.renewal = nil
	switch {
	case err != nil:
	case st.cur == expired:
		st.cur = next
	default:
		// The client started a session of its own meanwhile; it wins.
		r.endSession(next)
		next = st.cur
	}
	st.mu.Unlock()
	rn.next, rn.err = next, err
	close(rn.done)
	if err != nil {
		return nil, err
	}
	r.log.Info("started a new upstream session", "protocol_version", next.protocolVersion)
	r.awaitStream(ctx, r.startStandaloneStream(next))
	return next, nil
}

// replayHandshake starts a session with the client's own initialize request and initialized
// notification (or a plain one if the client's was never seen).
func (r *Relay) replayHandshake(ctx context.Context, initialize, note []byte) (*session, error) {
	init := classify(initialize)
	next, err := r.startSession(ctx, &init, func(*session, []byte, []string, bool) {})
	if err == nil && next == nil {
		err = errors.New("the server answered without a result")
	}
	if err != nil {
		if next != nil {
			next.cancel()
		}
		return nil, fmt.Errorf("replay initialize: %w", err)
	}
	if note == nil {
		note = initializedFallback
	}
	resp, err := r.send(ctx, exchange{method: http.MethodPost, body: note, sess: next, msg: &message{kind: kindNotification, method: "notifications/initialized"}})
	if err == nil {
		err = r.checkStatus(resp, next)
	}
	if err != nil {
		next.cancel()
		r.endSession(next)
		return nil, fmt.Errorf("replay notifications/initialized: %w", err)
	}
	discard(resp)
	return next, nil
}

// startStandaloneStream opens the GET stream on which the server sends requests and
// notifications outside any client request, once per session. The channel it returns is
// closed once the stream's first request has its answer.
func (r *Relay) startStandaloneStream(s *session) <-chan struct{} {
	if s.id == "" && s.protocolVersion == "" {
		s.markReady()
		return s.ready // no session was ever initialized
	}
	if !s.streamStarted.CompareAndSwap(false, true) {
		return s.ready
	}
	r.streams.Add(1)
	go func() {
		defer r.streams.Done()
		defer s.markReady()
		r.standaloneStream(s)
	}()
	return s.ready
}

// standaloneStream keeps the session's GET stream open until the session ends: when the
// stream ends or breaks it is reopened after the server's retry delay with Last-Event-ID. A 405
// means the server offers no such stream. Network errors are retried with backoff for as long
// as the session lives; a server that keeps answering with streams that end at once empty, or
// with something other than a stream, is given up on after a few tries.
func (r *Relay) standaloneStream(s *session) {
	const maxUnproductive = 8
	ctx := s.ctx
	lastEventID := ""
	failures, unproductive := 0, 0
	everOpened := false
	for ctx.Err() == nil {
		resp, err := r.send(ctx, exchange{method: http.MethodGet, sess: s, lastEventID: lastEventID})
		s.markReady()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			r.log.Debug("standalone stream request failed", "error", err, "failures", failures)
			_ = sleep(ctx, r.streamBackoff(failures))
			continue
		}
		failures = 0
		switch {
		case resp.StatusCode == http.StatusMethodNotAllowed:
			discard(resp)
			r.log.Debug("the server offers no standalone event stream (405)")
			return
		case resp.StatusCode == http.StatusNotFound:
			discard(resp)
			if everOpened {
				// The session expired while idle: start a new one now so that the server's
				// notifications keep arriving before the client's next request.
				r.log.Info("upstream session expired; starting a new one")
				if _, err := r.renewSession(r.sess.base, s); err != nil {
					r.log.Warn("could not start a new upstream session", "error", err)
				}
			}
			return
		case resp.StatusCode != http.StatusOK || !isEventStream(resp):
			unproductive++
			r.log.Warn("standalone stream refused", "status", resp.StatusCode, "attempt", unproductive)
			discard(resp)
			if unproductive >= maxUnproductive {
				r.log.Warn("giving up on the standalone stream; server notifications now arrive only with responses")
				return
			}
			_ = sleep(ctx, r.streamBackoff(unproductive))
			continue
		}
		everOpened = true
		r.log.Debug("standalone stream open", "resumed", lastEventID != "")
		opened := time.Now()
		delivered := 0
		sr := r.sseBufs.Reader(resp.Body)
		sr.ResumeFrom(lastEventID)
		var owed int // nothing is owed on this stream: relay until it ends
		_ = r.pumpEvents(sr, nil, &owed, false, func(msg []byte, ids []string) {
			delivered++
			r.emit(msg, ids, nil)
		})
		resp.Body.Close()
		lastEventID = sr.LastEventID
		retry := orDefault(sr.Retry, r.cfg.ReconnectDelay)
		r.sseBufs.Release(sr)
		// A stream that stayed open a while is healthy even if quiet (Cloud Run ends
		// requests at its timeout); one that ended at once with nothing is not.
		if delivered > 0 || time.Since(opened) >= 10*time.Second {
			unproductive = 0
		} else {
			unproductive++
			if unproductive >= maxUnproductive {
				r.log.Warn("giving up on the standalone stream: it keeps ending at once without messages")
				return
			}
			retry = max(retry, r.streamBackoff(unproductive))
		}
		_ = sleep(ctx, retry)
	}
}

func (r *Relay) streamBackoff(failures int) time.Duration {
	d := r.cfg.ReconnectDelay << min(failures, 6)
	return min(d, 30*time.Second)
}

// endSession deletes s upstream in the background: a session replaced while the relay runs
// should not linger on the server until it times out.
func (r *Relay) endSession(s *session) {
	if s.id == "" {
		return
	}
	r.streams.Add(1)
	go func() {
		defer r.streams.Done()
		r.deleteSession(context.WithoutCancel(r.sess.base), s)
	}()
}

// deleteSession ends the upstream session s. 405 means the server does not allow clients to
// end sessions, and 404 that it is gone already: both are fine.
func (r *Relay) deleteSession(ctx context.Context, s *session) {
	if s.id == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := r.send(ctx, exchange{method: http.MethodDelete, sess: s})
	if err != nil {
		r.log.Warn("could not end the upstream session", "error", err)
		return
	}
	discard(resp)
	switch {
	case resp.StatusCode < 300, resp.StatusCode == http.StatusMethodNotAllowed, resp.StatusCode == http.StatusNotFound:
		r.log.Debug("upstream session ended", "status", resp.StatusCode)
	default:
		r.log.Warn("could not end the upstream session", "status", resp.StatusCode)
	}
}
