package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy/internal/wire"
	"io"
	"net/http"
	"strings"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy/internal/jsonscan"
	"github.com/tidwall/gjson"
)

// JSON-RPC error codes the relay uses for answers it makes up itself.
const (
	codeParseError    = -32700
	codeInternalError = -32603
)

// tooLargeResponse answers a stdin line longer than max bytes; its id cannot be known.
func tooLargeResponse(max int) []byte {
	return errorResponse([]byte("null"), codeParseError, fmt.Sprintf("Parse error: the line is larger than the maximum message size of %d bytes (mcp-cloudrun-proxy --max-message-size)", max))
}

var parseErrorResponse = []byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error: the line is not a JSON-RPC message (a JSON object or array)"}}`)

// maxErrorBody is how much of an error answer is read to report it.
const maxErrorBody = 64 << 10

// replyError answers every request in m that has no answer yet with an error that carries the
// request's id exactly as the client wrote it: the server's own JSON-RPC error when it sent
// one, else an internal error saying what failed.
func (r *Relay) replyError(m *message, err error) {
	switch m.kind {
	case kindRequest:
		if r.pending.settle(string(m.id), false) {
			r.out.writeMessage(errorAnswer(m.id, err))
		}
	case kindBatch:
		batch := []byte{'['}
		for _, id := range m.batchIDs {
			if m.answered[string(id)] || !r.pending.settle(string(id), false) {
				continue
			}
			if len(batch) > 1 {
				batch = append(batch, ',')
			}
			batch = append(batch, errorAnswer(id, err)...)
		}
		if len(batch) > 1 {
			r.out.writeMessage(append(batch, ']'))
		}
	}
}

// errorAnswer is the error response for id: the server's error object as it sent it, or an
// internal error with err's text.
func errorAnswer(id []byte, err error) []byte {
	var serr *serverError
	if errors.As(err, &serr) {
		out := make([]byte, 0, len(id)+len(serr.raw)+40)
		out = append(out, `{"jsonrpc":"2.0","id":`...)
		out = append(out, id...)
		out = append(out, `,"error":`...)
		out = append(out, serr.raw...)
		return append(out, '}')
	}
	return errorResponse(id, codeInternalError, err.Error())
}

func errorResponse(id []byte, code int, msg string) []byte {
	quoted, _ := json.Marshal(msg)
	out := make([]byte, 0, len(id)+len(quoted)+64)
	out = append(out, `{"jsonrpc":"2.0","id":`...)
	out = append(out, id...)
	out = fmt.Appendf(out, `,"error":{"code":%d,"message":`, code)
	out = append(out, quoted...)
	return append(out, "}}"...)
}

// A serverError is a JSON-RPC error the server sent with a non-2xx HTTP status, such as a
// 2025-only server's answer to server/discover or a 2026 server's header mismatch. The client
// gets it as the server phrased it: code, message and data.
type serverError struct {
	status int
	code   int64
	raw    []byte // the error object, exactly as the server sent it
}

func (e *serverError) Error() string {
	return fmt.Sprintf("upstream answered HTTP %d with JSON-RPC error %d: %s", e.status, e.code, gjson.GetBytes(e.raw, "message").String())
}

// asServerError returns the JSON-RPC error in an error answer's body, if that is what it is.
func asServerError(status int, body []byte) *serverError {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' || jsonscan.Valid(body, 0) != nil {
		return nil
	}
	e := gjson.GetBytes(body, "error")
	if !e.IsObject() || e.Get("code").Type != gjson.Number || e.Get("message").Type != gjson.String {
		return nil
	}
	return &serverError{status: status, code: e.Get("code").Int(), raw: []byte(e.Raw)}
}

// rejectionError explains a 401/403 that survived a retry with fresh credentials: the problem
// is the token's audience or the principal's permissions, not its age.
func (r *Relay) rejectionError(resp *http.Response) error {
	defer discard(resp)
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	what := "the ID token is not valid for this service: check the audience (--audience must be the service URL or one of its custom audiences)"
	if resp.StatusCode == http.StatusForbidden {
		what = "the principal is not allowed to invoke this service: grant it roles/run.invoker, and check the audience"
	}
	msg := fmt.Sprintf("upstream rejected a freshly fetched ID token with HTTP %d: %s", resp.StatusCode, what)
	if r.cfg.RejectionHint != nil {
		if hint := r.cfg.RejectionHint(); hint != "" {
			msg += " (" + hint + ")"
		}
	}
	// A server may echo the request; the credential sent is removed from the excerpt as well
	// as anything shaped like a JWT.
	if resp.Request != nil {
		if _, cred, ok := strings.Cut(resp.Request.Header.Get("Authorization"), " "); ok {
			body = wire.Redact(body, cred)
		}
	}
	if ex := wire.Excerpt(body); ex != "" {
		msg += ": " + ex
	}
	return errors.New(msg)
}

// statusError describes an unexpected status with a short, tag-free excerpt of the body.
func statusError(status int, body []byte, hint string) error {
	msg := fmt.Sprintf("upstream answered HTTP %d %s%s", status, http.StatusText(status), hint)
	if ex := wire.Excerpt(body); ex != "" {
		msg += ": " + ex
	}
	return errors.New(msg)
}

// describeTransportError names the kind of network failure (DNS, TLS, refused, timeout)
// without repeating the request.
func describeTransportError(err error, host string) error { return wire.Classify(err, host) }
