package proxy

import (
	"context"
	"errors"
	"strings"
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
	// recent are the ids answered last, so that an answer arriving after its request ended
	// is known for the duplicate it is; ring is their order, for forgetting the oldest.
	recent map[string]struct{}
	ring   []string
	next   int
}

// recentAnswers is how many answered ids are remembered after their requests ended.
const recentAnswers = 1024

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

// settle marks the request with this raw id answered and reports whether the answer is to be
// relayed: a second answer for an id, while its request runs or soon after, never is. An
// answer for an id the relay knows nothing of (id null, say) is relayed as it came. A request
// answered on a stream other than its own (elsewhere) has its own stream stopped.
func (p *pendingRequests) settle(id string, elsewhere bool) bool {
	p.mu.Lock()
	entry := p.byID[id]
	switch {
	case entry == nil:
		_, dup := p.recent[id]
		p.mu.Unlock()
		return !dup
	case entry.answered:
		p.mu.Unlock()
		return false
	}
	entry.answered = true
	p.rememberLocked(id)
	p.mu.Unlock()
	if elsewhere {
		entry.cancel(errAnsweredElsewhere)
	}
	return true
}

// rememberLocked adds id to the recently answered ids, forgetting the oldest.
func (p *pendingRequests) rememberLocked(id string) {
	if p.recent == nil {
		p.recent = make(map[string]struct{}, recentAnswers)
		p.ring = make([]string, recentAnswers)
	}
	if old := p.ring[p.next]; old != "" {
		delete(p.recent, old)
	}
	id = strings.Clone(id) // the caller's id may point into a message about to be released
	p.ring[p.next], p.recent[id] = id, struct{}{}
	p.next = (p.next + 1) % recentAnswers
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
