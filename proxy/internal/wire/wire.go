package wire

import "github.com/tidwall/gjson"

// Header names of the Streamable HTTP transport, in canonical form so that they can be set
// on an http.Header map directly.
const (
	HeaderSessionID       = "Mcp-Session-Id"
	HeaderProtocolVersion = "Mcp-Protocol-Version"
	HeaderLastEventID     = "Last-Event-Id"
	// The routing headers of 2026-07-28 (SEP-2243).
	HeaderMethod      = "Mcp-Method"
	HeaderName        = "Mcp-Name"
	HeaderParamPrefix = "Mcp-Param-"
)

// IsResponse reports whether v is a JSON-RPC response: an object with a result or an error
// and no method. One pass over the members, not a scan of a large message per key.
func IsResponse(v gjson.Result) bool {
	if !v.IsObject() {
		return false
	}
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
