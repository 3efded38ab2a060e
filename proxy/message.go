package proxy

import (
	"bytes"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy/internal/wire"
	"strings"
	"unsafe"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy/internal/jsonscan"
	"github.com/tidwall/gjson"
)

// messageKind says what a client message expects back.
type messageKind int

const (
	kindInvalid      messageKind = iota // not JSON, or JSON that is neither object nor array
	kindRequest                         // has method and id: needs exactly one response
	kindNotification                    // has method, no id
	kindResponse                        // no method: the client's answer to a server request
	kindBatch                           // a JSON array of messages
)

// A message is one line from the client, classified without decoding it: the body is sent
// upstream exactly as it arrived.
type message struct {
	body   []byte
	kind   messageKind
	method string
	// id is the request's id exactly as the client wrote it, for error responses.
	id []byte
	// batchIDs are the ids of the requests inside a batch.
	batchIDs [][]byte
	// status is the HTTP status of the last upstream answer, for the debug log.
	status int
	// size is len(body), kept for the log once a large body has been let go (see deliver).
	size int
	// answered holds the ids of the batch's requests whose responses were relayed, so that
	// a failure later in the stream answers only the others.
	answered map[string]bool
	// params is the message's params member, parsed lazily by gjson (nothing is copied).
	params gjson.Result
	// version is the protocol version a 2026-07-28 request carries in params._meta; empty
	// for the earlier, session-based revisions.
	version string
}

// stateless reports whether m is a request of protocol 2026-07-28 or later: sent without a
// session, never renewed or resumed.
func (m *message) stateless() bool { return isStateless(m.version) }

// release lets a request's body go once the server has taken it: nothing sends it again, and
// a large one need not stay in memory while a large answer is read (an 8 MiB echo held both).
// Notifications keep theirs: notifications/initialized is replayed on session renewal.
func (m *message) release() {
	if (m.kind == kindRequest && !m.isListen()) || m.kind == kindBatch {
		m.body, m.params = nil, gjson.Result{}
	}
}

// owns reports whether the response id (raw JSON) answers a request of m.
func (m *message) owns(id string) bool {
	if m == nil {
		return false
	}
	if m.kind == kindRequest {
		return string(m.id) == id
	}
	for _, b := range m.batchIDs {
		if string(b) == id {
			return true
		}
	}
	return false
}

// owned counts the ids (of responses) that answer requests of m.
func (m *message) owned(ids []string) int {
	n := 0
	for _, id := range ids {
		if m.owns(id) {
			n++
		}
	}
	return n
}

// isListen reports whether m opens a 2026 subscriptions/listen stream, which stays open for
// as long as the client keeps it.
func (m *message) isListen() bool { return m.kind == kindRequest && m.method == "subscriptions/listen" }

// noteAnswers records ids, the responses of one of m's batch answers.
func (m *message) noteAnswers(ids []string) {
	for _, id := range ids {
		if m.answered == nil {
			m.answered = map[string]bool{}
		}
		m.answered[strings.Clone(id)] = true // id points into a buffer the next event reuses
	}
}

func classify(body []byte) message {
	m := message{body: body, size: len(body)}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	// jsonscan first: gjson's own validation recurses, and 10 million "[" would overflow
	// the stack; within jsonscan's depth limit gjson's recursion is harmless.
	if len(trimmed) == 0 || jsonscan.Valid(body, 0) != nil {
		return m
	}
	switch trimmed[0] {
	case '{':
		m.kind, m.method, m.id, m.params = classifyObject(gjson.Parse(view(body)))
		if m.kind == kindRequest && m.params.IsObject() {
			m.version = strings.Clone(m.params.Get(metaVersionPath).String())
		}
	case '[':
		m.kind = kindBatch
		gjson.Parse(view(body)).ForEach(func(_, v gjson.Result) bool {
			if kind, _, id, _ := classifyObject(v); kind == kindRequest {
				m.batchIDs = append(m.batchIDs, id)
			}
			return true
		})
	}
	return m
}

// view is b as a string without a copy, for gjson to parse: a large message is not
// duplicated. b must not change while the string is in use, and any string kept from the
// parse is cloned (ids are copied into byte slices anyway).
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// classifyObject returns the kind, method, raw id and params of one JSON-RPC object.
func classifyObject(v gjson.Result) (messageKind, string, []byte, gjson.Result) {
	if !v.IsObject() {
		return kindInvalid, "", nil, gjson.Result{}
	}
	// One pass over the members (the first of duplicate keys counts, as with Get) rather
	// than a scan of the whole message per key looked up.
	var method, id, params gjson.Result
	v.ForEach(func(k, val gjson.Result) bool {
		switch k.String() {
		case "method":
			if !method.Exists() {
				method = val
			}
		case "id":
			if !id.Exists() {
				id = val
			}
		case "params":
			if !params.Exists() {
				params = val
			}
		}
		return true
	})
	switch {
	case method.Exists() && id.Exists():
		return kindRequest, strings.Clone(method.String()), []byte(id.Raw), params
	case method.Exists():
		return kindNotification, strings.Clone(method.String()), nil, params
	default:
		return kindResponse, "", nil, gjson.Result{}
	}
}

// isHandshake reports whether m is part of the initialization handshake, which later
// messages must not overtake.
func (m *message) isHandshake() bool {
	return (m.kind == kindRequest && m.method == "initialize") ||
		(m.kind == kindNotification && m.method == "notifications/initialized")
}

// responsesExpected is how many response messages the server owes for m.
func (m *message) responsesExpected() int {
	switch m.kind {
	case kindRequest:
		return 1
	case kindBatch:
		return len(m.batchIDs)
	}
	return 0
}

// responseIDs appends to ids the raw id of each response in a server message, parsed once
// for every use: settling requests, counting what a stream still owes, noting batch answers.
// The ids point into msg: they are valid while msg is.
func responseIDs(msg []byte, ids []string) []string {
	v := gjson.Parse(view(msg))
	each := func(e gjson.Result) {
		if wire.IsResponse(e) {
			ids = append(ids, e.Get("id").Raw)
		}
	}
	if v.IsArray() {
		v.ForEach(func(_, e gjson.Result) bool { each(e); return true })
		return ids
	}
	each(v)
	return ids
}
