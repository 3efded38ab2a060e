package proxy

import (
	"encoding/base64"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy/internal/wire"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/tidwall/gjson"
)

// Protocol 2026-07-28 (SEP-2243) mirrors parts of each request body into HTTP headers so that
// load balancers can route without parsing bodies, and servers reject a request whose headers
// are missing or disagree with its body. A stdio client sends no headers, so the relay derives
// them from each body it forwards, exactly as the go-sdk client encodes them.
const (
	// statelessVersion is the first protocol revision without sessions; revisions are dates,
	// so they compare as strings.
	statelessVersion = "2026-07-28"

	base64Prefix = "=?base64?"
	base64Suffix = "?="
)

// metaVersionPath is where a 2026 request carries its protocol version, inside params.
const metaVersionPath = `_meta.io\.modelcontextprotocol/protocolVersion`

// isStateless reports whether version is 2026-07-28 or later.
func isStateless(version string) bool { return version >= statelessVersion }

// nameField is the params member that Mcp-Name mirrors for method, if any.
func nameField(method string) string {
	switch method {
	case "tools/call", "prompts/get":
		return "name"
	case "resources/read":
		return "uri"
	}
	return ""
}

// setRoutingHeaders sets Mcp-Method, Mcp-Name and Mcp-Param-* for m, whose protocol version
// is 2026-07-28 or later. Notifications carry Mcp-Method too, as the go-sdk client sends it.
func (r *Relay) setRoutingHeaders(h http.Header, m *message) {
	if m.kind != kindRequest && m.kind != kindNotification {
		return
	}
	h[wire.HeaderMethod] = []string{m.method}
	field := nameField(m.method)
	if field == "" || !m.params.Exists() {
		return
	}
	if name := m.params.Get(field); name.Type == gjson.String {
		h[wire.HeaderName] = []string{encodeNameValue(name.String())}
	}
	if m.method == "tools/call" {
		r.tools.setParamHeaders(h, m.params)
	}
}

// encodeNameValue encodes an Mcp-Name value. The go-sdk client sends names as they are and
// its server compares them undecoded, so a printable name travels unchanged; one that an HTTP
// header cannot carry (control characters) gets the specification's Base64 sentinel form.
func encodeNameValue(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return encodeBase64(s)
		}
	}
	return s
}

// encodeParamValue encodes an Mcp-Param-* value as SEP-2243 says: as it is when it is plain
// ASCII, else (non-ASCII, control characters, leading or trailing white space, or a value
// that looks encoded already) Base64 inside the =?base64?...?= sentinel.
func encodeParamValue(s string) string {
	if needsBase64(s) {
		return encodeBase64(s)
	}
	return s
}

func needsBase64(s string) bool {
	if s == "" {
		return false
	}
	if first, last := s[0], s[len(s)-1]; first == ' ' || first == '\t' || last == ' ' || last == '\t' {
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return true
		}
	}
	return strings.HasPrefix(s, base64Prefix) && strings.HasSuffix(s, base64Suffix)
}

func encodeBase64(s string) string {
	return base64Prefix + base64.StdEncoding.EncodeToString([]byte(s)) + base64Suffix
}

// paramValue renders an argument for an Mcp-Param-* header: strings as they are, booleans as
// true/false, integers (within JavaScript's safe range, 42.0 counting as 42) in decimal. Any
// other value (null, a fraction, an object) gets no header.
func paramValue(v gjson.Result) (string, bool) {
	switch v.Type {
	case gjson.String:
		return v.String(), true
	case gjson.True:
		return "true", true
	case gjson.False:
		return "false", true
	case gjson.Number:
		const maxSafe = 1<<53 - 1
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || f > maxSafe || f < -maxSafe {
			return "", false
		}
		return strconv.FormatInt(int64(f), 10), true
	}
	return "", false
}

// A paramBinding mirrors the argument at path (a chain of property names) into the header
// Mcp-Param-<header>.
type paramBinding struct {
	path   []string
	header string
}

// toolHeaders is what the relay knows of each tool's x-mcp-header annotations, learned from
// the tools/list results it relays. A tool missing here is called without Mcp-Param headers;
// if the server then reports a header mismatch, the relay lists the tools itself and retries.
type toolHeaders struct {
	mu     sync.RWMutex
	byTool map[string][]paramBinding
}

// learn records the annotations of every tool in a tools/list response. Tools not in the
// page keep what was learned before: pages and list_changed refreshes replace tool by tool.
func (t *toolHeaders) learn(response []byte) {
	tools := gjson.GetBytes(response, "result.tools")
	if !tools.IsArray() {
		return
	}
	learned := map[string][]paramBinding{}
	tools.ForEach(func(_, tool gjson.Result) bool {
		name := tool.Get("name")
		if name.Type == gjson.String {
			learned[name.String()] = collectBindings(tool.Get("inputSchema.properties"), nil, nil, 0)
		}
		return true
	})
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byTool == nil {
		t.byTool = map[string][]paramBinding{}
	}
	for name, b := range learned {
		if len(b) == 0 {
			delete(t.byTool, name)
			continue
		}
		t.byTool[name] = b
	}
}

// maxSchemaDepth bounds how deep nested properties are followed, so that a hostile schema
// cannot make the walk expensive.
const maxSchemaDepth = 32

// collectBindings walks a schema's properties (only chains of "properties" keys, as the
// specification allows) and returns each x-mcp-header annotation on a primitive property.
func collectBindings(props gjson.Result, prefix []string, out []paramBinding, depth int) []paramBinding {
	if !props.IsObject() || depth > maxSchemaDepth {
		return out
	}
	props.ForEach(func(key, prop gjson.Result) bool {
		path := append(append([]string(nil), prefix...), key.String())
		if h := prop.Get("x-mcp-header"); h.Type == gjson.String && validHeaderToken(h.String()) {
			switch prop.Get("type").String() {
			case "string", "integer", "boolean":
				out = append(out, paramBinding{path: path, header: h.String()})
			}
		}
		out = collectBindings(prop.Get("properties"), path, out, depth+1)
		return true
	})
	return out
}

// validHeaderToken reports whether s is an HTTP field-name token (RFC 9110 tchar).
func validHeaderToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// setParamHeaders sets Mcp-Param-* for a tools/call whose params are given.
func (t *toolHeaders) setParamHeaders(h http.Header, params gjson.Result) {
	t.mu.RLock()
	bindings := t.byTool[params.Get("name").String()]
	t.mu.RUnlock()
	if len(bindings) == 0 {
		return
	}
	args := params.Get("arguments")
	for _, b := range bindings {
		v := args
		for _, key := range b.path {
			v = v.Get(gjson.Escape(key))
		}
		if s, ok := paramValue(v); ok {
			h.Set(wire.HeaderParamPrefix+b.header, encodeParamValue(s))
		}
	}
}
