package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tidwall/gjson"
)

// codeHeaderMismatch is the JSON-RPC error 2026-07-28 servers answer when a request's headers
// are missing or disagree with its body.
const codeHeaderMismatch = -32020

// deliverStateless relays a request of protocol 2026-07-28 or later: no session, no renewal,
// no resumption. A tools/call the server refuses for its Mcp-Param headers is sent once more
// after the relay has listed the tools itself, as the specification asks of clients, since
// the relay may not have seen the tool's current schema.
func (r *Relay) deliverStateless(ctx context.Context, m *message) error {
	if m.isListen() {
		return r.listen(ctx, m)
	}
	x := exchange{method: http.MethodPost, body: m.body, msg: m, version: m.version}
	err := r.post(ctx, m, x, nil)
	var serr *serverError
	if m.method == "tools/call" && m.body != nil && errors.As(err, &serr) && serr.code == codeHeaderMismatch {
		r.log.Debug("server reported a header mismatch; listing tools and sending the call again", "error", err)
		if lerr := r.refreshTools(ctx, m); lerr != nil {
			r.log.Debug("could not list the tools", "error", lerr)
			return err
		}
		return r.post(ctx, m, x, nil)
	}
	return err
}

// listenQuickEnds is how many listen streams in a row may end at once, without delivering
// anything, before the relay gives up and answers the client with an error.
const listenQuickEnds = 8

// listen keeps a subscriptions/listen stream open for as long as the client keeps it: when the
// server or Cloud Run (at its request timeout) ends it without a response, the same request is
// sent again. 2026-07-28 streams cannot be resumed, so there is nothing to replay; each new
// stream starts with a fresh token and budget. A server that answers (the response, or a
// JSON-RPC error) ends it; so do notifications/cancelled and shutdown.
func (r *Relay) listen(ctx context.Context, m *message) error {
	x := exchange{method: http.MethodPost, body: m.body, msg: m, version: m.version}
	quick := 0
	for {
		opened := time.Now()
		var delivered atomic.Int64
		relay := r.sinkFor(m)
		err := r.post(withBudget(ctx, newBudget(r.cfg.RetryMax, r.cfg.RetryBudget)), m, x, func(msg []byte, ids []string) {
			delivered.Add(1)
			relay(msg, ids)
		})
		var ended *streamEndedError
		var serr *serverError
		switch {
		case err == nil, ctx.Err() != nil, errors.As(err, &serr):
			return err
		case errors.As(err, &ended):
			r.log.Debug("listen stream ended; opening it again", "reason", ended.why)
		default:
			r.log.Debug("listen stream failed; opening it again", "error", err)
		}
		if delivered.Load() > 0 || time.Since(opened) >= 10*time.Second {
			quick = 0
		} else if quick++; quick >= listenQuickEnds {
			return fmt.Errorf("the subscriptions/listen stream keeps ending at once (%d times): %w", quick, err)
		}
		if err := sleep(ctx, r.streamBackoff(quick)); err != nil {
			return err
		}
	}
}

// toolsListID numbers the relay's own tools/list requests; their ids never reach the client.
var toolsListID atomic.Int64

// refreshTools lists every page of the server's tools with call's _meta, so that the relay
// learns the current x-mcp-header annotations.
func (r *Relay) refreshTools(ctx context.Context, call *message) error {
	meta := call.params.Get("_meta").Raw
	cursor := ""
	for page := 0; page < 100; page++ {
		body := []byte(`{"jsonrpc":"2.0","id":"mcp-cloudrun-proxy-tools-` + strconv.FormatInt(toolsListID.Add(1), 10) + `","method":"tools/list","params":{"_meta":` + meta)
		if cursor != "" {
			body = append(append(body, `,"cursor":`...), strconv.Quote(cursor)...)
		}
		body = append(body, "}}"...)
		list := classify(body)
		next := ""
		err := r.post(ctx, &list, exchange{method: http.MethodPost, body: body, msg: &list, version: call.version}, func(msg []byte, ids []string) {
			if len(ids) > 0 {
				r.tools.learn(msg)
				next = gjson.GetBytes(msg, "result.nextCursor").String()
			}
		})
		if err != nil || next == "" {
			return err
		}
		cursor = next
	}
	return nil
}
