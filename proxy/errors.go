package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"
)

// JSON-RPC error codes the relay uses for answers it makes up itself.
const (
	codeParseError    = -32700
	codeInternalError = -32603
)

var parseErrorResponse = []byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error: the line is not a JSON-RPC message (a JSON object or array)"}}`)

// replyError answers every request in m that has no answer yet with an internal error that
// carries the request's id exactly as the client wrote it.
func (r *Relay) replyError(m *message, err error) {
	text := err.Error()
	switch m.kind {
	case kindRequest:
		r.out.writeMessage(errorResponse(m.id, codeInternalError, text))
	case kindBatch:
		batch := []byte{'['}
		for _, id := range m.batchIDs {
			if m.answered[string(id)] {
				continue
			}
			if len(batch) > 1 {
				batch = append(batch, ',')
			}
			batch = append(batch, errorResponse(id, codeInternalError, text)...)
		}
		if len(batch) > 1 {
			r.out.writeMessage(append(batch, ']'))
		}
	}
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

// rejectionError explains a second 401/403 in a row: a freshly fetched token was refused too,
// so the problem is the token's audience or the principal's permissions, not its age.
func (r *Relay) rejectionError(resp *http.Response, token string) error {
	defer discard(resp)
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	what := "the ID token is not valid for this service: check the audience (--audience must be the service URL or one of its custom audiences)"
	if resp.StatusCode == http.StatusForbidden {
		what = "the principal is not allowed to invoke this service: grant it roles/run.invoker, and check the audience"
	}
	msg := fmt.Sprintf("upstream rejected a freshly fetched ID token with HTTP %d: %s", resp.StatusCode, what)
	if r.cfg.RejectionHint != "" {
		msg += " (" + r.cfg.RejectionHint + ")"
	}
	if ex := excerpt(redact(body, token)); ex != "" {
		msg += ": " + ex
	}
	return errors.New(msg)
}

// statusError describes an unexpected status with a short, tag-free excerpt of the body.
func statusError(resp *http.Response, hint string) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	msg := fmt.Sprintf("upstream answered HTTP %d %s%s", resp.StatusCode, http.StatusText(resp.StatusCode), hint)
	if ex := excerpt(body); ex != "" {
		msg += ": " + ex
	}
	return errors.New(msg)
}

// describeTransportError names the kind of network failure without repeating the request.
func describeTransportError(err error, host string) error {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr):
		return fmt.Errorf("cannot resolve %s (DNS): %w", host, dnsErr)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return fmt.Errorf("cannot connect to %s: %w", host, opErr.Err)
	}
	return fmt.Errorf("request to %s failed: %w", host, err)
}

var (
	htmlTag    = regexp.MustCompile(`(?s)<[^>]*>`)
	whitespace = regexp.MustCompile(`\s+`)
	// jwtLike matches anything shaped like a JWT, so that a server echoing our request can
	// never make a token show up in an error message.
	jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)
)

func redact(body []byte, token string) []byte {
	if token != "" {
		body = bytes.ReplaceAll(body, []byte(token), []byte("[redacted]"))
	}
	return jwtLike.ReplaceAll(body, []byte("[redacted]"))
}

// excerpt is the first 200 characters of body as plain text: tags stripped, white space
// folded, invalid UTF-8 dropped, anything shaped like a token redacted.
func excerpt(body []byte) string {
	if len(body) > 4096 {
		body = body[:4096]
	}
	text := htmlTag.ReplaceAllString(string(redact(body, "")), " ")
	text = strings.TrimSpace(whitespace.ReplaceAllString(strings.ToValidUTF8(text, ""), " "))
	if utf8.RuneCountInString(text) > 200 {
		runes := []rune(text)
		text = string(runes[:200]) + "…"
	}
	return text
}
