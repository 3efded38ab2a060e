package proxy

import (
	"context"
	"errors"
	"sync"
)

// Causes of a request's context ending before its own stream delivered the answer; none of
// them is ever shown to the client as an error text of Go's.
var (
	// errCancelledByClient: the client sent notifications/cancelled for the request, so the
	// relay stops waiting and sends no error.
	errCancelledByClient = errors.New("cancelled by the client")
	// errAnsweredElsewhere: the answer arrived on another stream (a resumed or standalone
	// one), so the request's own stream has nothing left to deliver.
	errAnsweredElsewhere = errors.New("answered on another stream")
	// errShuttingDown: stdin ended (or a signal came) and the grace period ran out.
	errShuttingDown = errors.New("mcp-cloudrun-proxy is shutting down (its stdin was closed), so it cancelled this request before the server answered")
)

// pendingRequests maps the ids of requests in flight to what cancels them and whether they
// were answered, so that every request gets exactly one answer whichever stream carries it.
type pendingRequests struct {
	mu   sync.Mutex
	byID map[string]*pendingRequest
}

type pendingRequest struct {
	cancel   context.CancelCauseFunc
	answered bool
	listen   bool
}

// track gives the request with this raw id a context of its own; untrack forgets it.
func (p *pendingRequests) track(ctx context.Context, id []byte, listen bool) (_ context.Context, untrack func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	entry := &pendingRequest{cancel: cancel, listen: listen}
	key := string(id)
	p.mu.Lock()
	if p.byID == nil {
		p.byID = map[string]*pendingRequest{}
	}
	p.byID[key] = entry
	p.mu.Unlock()
	return ctx, func() {
		p.mu.Lock()
		if p.byID[key] == entry {
			delete(p.byID, key)
		}
		p.mu.Unlock()
		cancel(nil)
	}
}

// settle marks the request with this raw id answered and reports whether the answer is the
// first: a second answer for the same id is never relayed. A request answered on a stream
// other than its own (elsewhere) has its own stream stopped.
func (p *pendingRequests) settle(id string, elsewhere bool) bool {
	p.mu.Lock()
	entry := p.byID[id]
	first := entry != nil && !entry.answered
	if first {
		entry.answered = true
	}
	p.mu.Unlock()
	if first && elsewhere {
		entry.cancel(errAnsweredElsewhere)
	}
	return first
}

// cancel ends the request with this raw id, if it is still in flight.
func (p *pendingRequests) cancel(id string) {
	p.mu.Lock()
	entry := p.byID[id]
	p.mu.Unlock()
	if entry != nil {
		entry.cancel(errCancelledByClient)
	}
}

// cancelListens ends every subscriptions/listen stream with cause.
func (p *pendingRequests) cancelListens(cause error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.byID {
		if e.listen {
			e.cancel(cause)
		}
	}
}
