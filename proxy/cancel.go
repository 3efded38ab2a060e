package proxy

import (
	"context"
	"errors"
	"sync"
)

// errCancelledByClient is the cause of a request's context when the client sent
// notifications/cancelled for it: the relay then stops waiting and sends no error.
var errCancelledByClient = errors.New("cancelled by the client")

// pendingRequests maps the ids of requests in flight to what cancels them.
type pendingRequests struct {
	mu   sync.Mutex
	byID map[string]*pendingRequest
}

type pendingRequest struct {
	cancel context.CancelCauseFunc
}

// track gives the request with this id a context of its own; untrack forgets it.
func (p *pendingRequests) track(ctx context.Context, id []byte) (_ context.Context, untrack func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	entry := &pendingRequest{cancel: cancel}
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

// cancel ends the request with this raw id, if it is still in flight.
func (p *pendingRequests) cancel(id string) {
	p.mu.Lock()
	entry := p.byID[id]
	p.mu.Unlock()
	if entry != nil {
		entry.cancel(errCancelledByClient)
	}
}
