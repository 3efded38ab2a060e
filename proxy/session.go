package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/gjson"
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
}

// sessionState holds the current session and what is needed to start a new one the way the
// client started the first.
type sessionState struct {
	mu              sync.Mutex
	base            context.Context
	cur             *session
	initialize      []byte // the client's initialize request, exactly as sent
	initializedNote []byte // the client's notifications/initialized, exactly as sent
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
	return &session{id: id, ctx: ctx, cancel: cancel}
}

func (st *sessionState) current() *session {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.cur
}

// install makes s the current session, started by the client's initialize request.
func (st *sessionState) install(s *session, initialize []byte) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.cur.cancel()
	st.cur = s
	st.initialize = initialize
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
// one renewal.
func (r *Relay) renewSession(ctx context.Context, expired *session) (*session, error) {
	st := &r.sess
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.cur != expired {
		return st.cur, nil
	}
	if st.initialize == nil {
		return nil, errors.New("the client never sent initialize, so there is nothing to replay")
	}
	expired.cancel()

	resp, err := r.send(ctx, http.MethodPost, st.initialize, &session{}, "")
	if err != nil {
		return nil, fmt.Errorf("replay initialize: %w", err)
	}
	if err := r.checkStatus(resp, nil); err != nil {
		return nil, fmt.Errorf("replay initialize: %w", err)
	}
	next := st.newSession(resp.Header.Get(headerSessionID))
	init := classify(st.initialize)
	err = r.consume(ctx, &init, resp, next, func(msg []byte) {
		if v := gjson.GetBytes(msg, "result.protocolVersion"); v.Exists() {
			next.protocolVersion = v.String()
		}
	})
	if err != nil {
		next.cancel()
		return nil, fmt.Errorf("replay initialize: %w", err)
	}

	note := st.initializedNote
	if note == nil {
		note = initializedFallback
	}
	resp, err = r.send(ctx, http.MethodPost, note, next, "")
	if err != nil {
		next.cancel()
		return nil, fmt.Errorf("replay notifications/initialized: %w", err)
	}
	if err := r.checkStatus(resp, next); err != nil {
		next.cancel()
		return nil, fmt.Errorf("replay notifications/initialized: %w", err)
	}
	discard(resp)

	st.cur = next
	r.log.Info("started a new upstream session", "protocol_version", next.protocolVersion)
	r.startStandaloneStream(next)
	return next, nil
}

// startStandaloneStream opens the GET stream on which the server sends requests and
// notifications outside any client request, once per session.
func (r *Relay) startStandaloneStream(s *session) {
	if s.id == "" && s.protocolVersion == "" {
		return // no session was ever initialized
	}
	if !s.streamStarted.CompareAndSwap(false, true) {
		return
	}
	r.streams.Add(1)
	go func() {
		defer r.streams.Done()
		r.standaloneStream(s)
	}()
}

// standaloneStream keeps the session's GET stream open until the session ends: when the
// stream ends or breaks it is reopened after the server's retry delay with Last-Event-ID. A 405
// means the server offers no such stream.
func (r *Relay) standaloneStream(s *session) {
	ctx := s.ctx
	lastEventID := ""
	failures := 0
	for ctx.Err() == nil {
		resp, err := r.send(ctx, http.MethodGet, nil, s, lastEventID)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			r.log.Debug("standalone stream request failed", "error", err, "failures", failures)
			_ = sleep(ctx, r.streamBackoff(failures))
			continue
		}
		switch {
		case resp.StatusCode == http.StatusMethodNotAllowed:
			discard(resp)
			r.log.Debug("the server offers no standalone event stream (405)")
			return
		case resp.StatusCode == http.StatusNotFound:
			discard(resp)
			r.log.Debug("standalone stream: session no longer exists")
			return
		case resp.StatusCode != http.StatusOK || !isEventStream(resp):
			failures++
			r.log.Warn("standalone stream refused; will retry", "status", resp.StatusCode, "failures", failures)
			discard(resp)
			_ = sleep(ctx, r.streamBackoff(failures))
			continue
		}
		r.log.Debug("standalone stream open", "resumed", lastEventID != "")
		sr := r.sseBufs.reader(resp.Body)
		sr.resumeFrom(lastEventID)
		for {
			ev, err := sr.next()
			if err != nil {
				break
			}
			if !gjson.ValidBytes(ev.Data) {
				r.log.Warn("dropping an upstream event whose data is not JSON", "bytes", len(ev.Data))
				continue
			}
			failures = 0
			r.out.writeMessage(ev.Data)
		}
		resp.Body.Close()
		lastEventID = sr.LastEventID
		retry := sr.Retry
		r.sseBufs.release(sr)
		_ = sleep(ctx, orDefault(retry, r.cfg.ReconnectDelay))
	}
}

func (r *Relay) streamBackoff(failures int) time.Duration {
	d := r.cfg.ReconnectDelay << min(failures, 6)
	return min(d, 30*time.Second)
}

// deleteSession ends the upstream session on shutdown. 405 means the server does not allow
// clients to end sessions, which is fine.
func (r *Relay) deleteSession(ctx context.Context) {
	s := r.sess.current()
	if s.id == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := r.send(ctx, http.MethodDelete, nil, s, "")
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
