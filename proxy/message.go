package proxy

import (
	"bytes"
	"strings"
	"unsafe"

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
}

// noteAnswers records the ids of the responses in msg, one of m's batch answers.
func (m *message) noteAnswers(msg []byte) {
	note := func(v gjson.Result) {
		if isResponseObject(v) {
			if m.answered == nil {
				m.answered = map[string]bool{}
			}
			m.answered[v.Get("id").Raw] = true
		}
	}
	v := gjson.ParseBytes(msg)
	if v.IsArray() {
		v.ForEach(func(_, e gjson.Result) bool { note(e); return true })
		return
	}
	note(v)
}

func classify(body []byte) message {
	m := message{body: body, size: len(body)}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || !gjson.ValidBytes(body) {
		return m
	}
	switch trimmed[0] {
	case '{':
		m.kind, m.method, m.id = classifyObject(gjson.Parse(view(body)))
	case '[':
		m.kind = kindBatch
		gjson.Parse(view(body)).ForEach(func(_, v gjson.Result) bool {
			if kind, _, id := classifyObject(v); kind == kindRequest {
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

func classifyObject(v gjson.Result) (messageKind, string, []byte) {
	if !v.IsObject() {
		return kindInvalid, "", nil
	}
	// One pass over the members (the first of duplicate keys counts, as with Get) rather
	// than a scan of the whole message per key looked up.
	var method, id gjson.Result
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
		}
		return true
	})
	switch {
	case method.Exists() && id.Exists():
		return kindRequest, strings.Clone(method.String()), []byte(id.Raw)
	case method.Exists():
		return kindNotification, strings.Clone(method.String()), nil
	default:
		return kindResponse, "", nil
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

// isResponse reports whether a server message is a JSON-RPC response (or a batch of them)
// rather than a request or notification, and how many responses it holds.
func countResponses(msg []byte) int {
	v := gjson.Parse(view(msg))
	if v.IsArray() {
		n := 0
		v.ForEach(func(_, e gjson.Result) bool {
			if isResponseObject(e) {
				n++
			}
			return true
		})
		return n
	}
	if isResponseObject(v) {
		return 1
	}
	return 0
}

func isResponseObject(v gjson.Result) bool {
	if !v.IsObject() {
		return false
	}
	// One pass over the members instead of a scan of a possibly large message per key.
	hasMethod, hasOutcome := false, false
	v.ForEach(func(k, _ gjson.Result) bool {
		switch k.String() {
		case "method":
			hasMethod = true
		case "result", "error":
			hasOutcome = true
		}
		return true
	})
	return !hasMethod && hasOutcome
}
