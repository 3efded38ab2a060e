package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// A Failure answers the next Count matching requests with Status instead of passing them on.
type Failure struct {
	// Count is how many requests fail; 0 means 1.
	Count int
	// Status is the HTTP status, e.g. 401, 403, 404, 429, 503.
	Status int
	// RetryAfter, when positive, is sent as a Retry-After header (whole seconds, rounded up).
	RetryAfter time.Duration
	// Method, when set, matches only this HTTP method (GET, POST, DELETE).
	Method string
	// RPCMethod, when set, matches only POSTs whose JSON-RPC method is this (e.g.
	// "tools/call").
	RPCMethod string
}

// A Cut ends the next Count SSE responses early.
type Cut struct {
	// Count is how many streams to cut; 0 means 1.
	Count int
	// After cuts the stream this long after its headers were sent. Zero means "use
	// AfterEvents" (and, if that is zero too, cut right after the headers).
	After time.Duration
	// AfterEvents cuts the stream right after its Nth "message" event was written.
	AfterEvents int
	// Abrupt drops the connection without ending the chunked body (as a network failure or a
	// killed instance does). Otherwise the response ends cleanly (as Cloud Run's request
	// timeout does).
	Abrupt bool
	// Method, when set, cuts only streams answering this HTTP method (POST or GET).
	Method string
	// Resumed, when true, cuts only resumed streams (GETs carrying Last-Event-ID).
	Resumed bool
	// RPCMethod, when set, cuts only streams answering a POST of this JSON-RPC method (e.g.
	// "subscriptions/listen").
	RPCMethod string
	// Tool, when set, cuts only streams answering a tools/call of this tool (e.g. one that
	// sends progress before its result, so that a cut after its first event needs resuming).
	Tool string
	// Retry, when positive and the cut is clean, is sent as an SSE retry field before the end.
	Retry time.Duration
}

// Stats are what a [Controller] did.
type Stats struct {
	// Injected counts injected failures by status.
	Injected map[int]int
	// StreamsCut counts streams cut.
	StreamsCut int
}

// A Controller holds pending failures and cuts. It is safe for concurrent use; the zero
// value is ready.
type Controller struct {
	mu       sync.Mutex
	failures []Failure
	cuts     []Cut
	injected map[int]int
	cutCount int
}

// FailNext queues f.
func (c *Controller) FailNext(f Failure) {
	if f.Count <= 0 {
		f.Count = 1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failures = append(c.failures, f)
}

// CutStreams queues k.
func (c *Controller) CutStreams(k Cut) {
	if k.Count <= 0 {
		k.Count = 1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cuts = append(c.cuts, k)
}

// Reset drops every pending failure and cut.
func (c *Controller) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failures, c.cuts = nil, nil
}

// Pending reports how many injected failures and stream cuts are still waiting.
func (c *Controller) Pending() (failures, cuts int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.failures {
		failures += f.Count
	}
	for _, k := range c.cuts {
		cuts += k.Count
	}
	return failures, cuts
}

// Stats returns a snapshot of what the controller did.
func (c *Controller) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{Injected: map[int]int{}, StreamsCut: c.cutCount}
	for k, v := range c.injected {
		s.Injected[k] = v
	}
	return s
}

// takeFailure pops the first failure matching the request, if any.
func (c *Controller) takeFailure(method, rpcMethod string) (Failure, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, f := range c.failures {
		if f.Method != "" && f.Method != method {
			continue
		}
		if f.RPCMethod != "" && f.RPCMethod != rpcMethod {
			continue
		}
		c.failures[i].Count--
		if c.failures[i].Count == 0 {
			c.failures = append(c.failures[:i], c.failures[i+1:]...)
		}
		if c.injected == nil {
			c.injected = map[int]int{}
		}
		c.injected[f.Status]++
		return f, true
	}
	return Failure{}, false
}

// takeCut pops the first cut matching an SSE response to method, if any.
func (c *Controller) takeCut(method string, msg message, resumed bool) (Cut, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, k := range c.cuts {
		if (k.Method != "" && k.Method != method) || (k.RPCMethod != "" && k.RPCMethod != msg.Method) ||
			(k.Tool != "" && (msg.Method != "tools/call" || k.Tool != msg.Params.Name)) {
			continue
		}
		if k.Resumed && !resumed {
			continue
		}
		c.cuts[i].Count--
		if c.cuts[i].Count == 0 {
			c.cuts = append(c.cuts[:i], c.cuts[i+1:]...)
		}
		return k, true
	}
	return Cut{}, false
}

// countCut records that a stream was cut.
func (c *Controller) countCut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cutCount++
}

// hasCuts is a cheap check that avoids wrapping writers when nothing is pending.
func (c *Controller) hasCuts() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cuts) > 0
}

// RPCMethod returns the JSON-RPC method of a single message body ("" for a response, a batch
// or non-JSON).
func RPCMethod(body []byte) string {
	return parseMessage(body).Method
}

// message is what the faults match in a POSTed JSON-RPC message.
type message struct {
	Method string `json:"method"`
	Params struct {
		Name string `json:"name"`
	} `json:"params"`
}

// parseMessage reads body's method and params.name; zero for a batch or non-JSON.
func parseMessage(body []byte) message {
	var m message
	if err := json.Unmarshal(body, &m); err != nil {
		return message{}
	}
	return m
}

// Wrap returns next with the controller's faults applied.
func (c *Controller) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg message
		if r.Method == http.MethodPost && r.Body != nil {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, "failed to read body", http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			msg = parseMessage(body)
		}
		if f, ok := c.takeFailure(r.Method, msg.Method); ok {
			if f.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.RetryAfter.Seconds()))))
			}
			WriteError(w, r, f.Status)
			return
		}
		if !c.hasCuts() {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		cw := &cutWriter{ResponseWriter: w, c: c, method: r.Method, msg: msg, resumed: r.Header.Get("Last-Event-ID") != "", cancel: cancel}
		next.ServeHTTP(cw, r.WithContext(ctx))
		cw.finish()
	})
}

// WriteError answers r with status the way Cloud Run's front end does: 401 and 403 carry
// WWW-Authenticate and an HTML page; 404 says the session is unknown (what an MCP client
// sees after its session expired); others get Google's HTML error page.
func WriteError(w http.ResponseWriter, r *http.Request, status int) {
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token" error_description="The access token could not be verified"`)
		writeHTML(w, status, "Unauthorized", "Your client does not have permission to the requested URL <code>"+html.EscapeString(r.URL.Path)+"</code>.")
	case http.StatusForbidden:
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope" error_description="The caller does not have permission to invoke this service"`)
		writeHTML(w, status, "Forbidden", "Your client does not have permission to get URL <code>"+html.EscapeString(r.URL.Path)+"</code> from this server.")
	case http.StatusNotFound:
		http.Error(w, "session not found", status)
	case http.StatusTooManyRequests:
		writeHTML(w, status, "Too Many Requests", "The request was aborted because there was no available instance.")
	case http.StatusServiceUnavailable:
		writeHTML(w, status, "Service Unavailable", "The service you requested is not available yet. Please try again in 30 seconds.")
	default:
		writeHTML(w, status, http.StatusText(status), "The server encountered an error.")
	}
}

func writeHTML(w http.ResponseWriter, status int, title, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "\n<html><head>\n<meta http-equiv=\"content-type\" content=\"text/html;charset=utf-8\">\n<title>%d %s</title>\n</head>\n<body text=#000000 bgcolor=#ffffff>\n<h1>Error: %s</h1>\n<h2>%s</h2>\n<h2></h2>\n</body></html>\n", status, title, title, msg)
}
