package mcpclientcfg

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// TOML is edited as text: go-toml has no round-tripping document model, so its parser
// locates the tables and key/values, the bytes between them are copied untouched, and the
// result must parse and decode to the input with only our entry changed.

// A tomlItem is one top-level expression: a table header, a key/value or a comment, with
// the byte range of the whole lines it occupies.
type tomlItem struct {
	kind       unstable.Kind
	key        []string // full key of a header; the key of a key/value
	table      []string // for a key/value: the table it is in
	start, end int
}

func decodeTOML(loc Location, src []byte) (map[string]any, error) {
	m := map[string]any{}
	if err := toml.Unmarshal(src, &m); err != nil {
		perr := &ParseError{Path: loc.Path, Format: FormatTOML, Err: err}
		var derr *toml.DecodeError
		if errors.As(err, &derr) {
			perr.Line, perr.Column = derr.Position()
		}
		return nil, perr
	}
	return m, nil
}

func scanTOML(src []byte) ([]tomlItem, error) {
	lineStart := func(off int) int { return bytes.LastIndexByte(src[:off], '\n') + 1 }
	lineEnd := func(off int) int {
		if i := bytes.IndexByte(src[off:], '\n'); i >= 0 {
			return off + i + 1
		}
		return len(src)
	}
	p := unstable.Parser{KeepComments: true}
	p.Reset(src)
	var items []tomlItem
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		it := tomlItem{kind: e.Kind}
		switch e.Kind {
		case unstable.Comment:
			it.start, it.end = lineStart(int(e.Raw.Offset)), lineEnd(int(e.Raw.Offset+e.Raw.Length))
		case unstable.Table, unstable.ArrayTable:
			first := -1
			for k := e.Key(); k.Next(); {
				n := k.Node()
				if first < 0 {
					first = int(n.Raw.Offset)
				}
				it.key = append(it.key, string(n.Data))
			}
			last := e.Key()
			var lastOff int
			for last.Next() {
				lastOff = int(last.Node().Raw.Offset + last.Node().Raw.Length)
			}
			it.start, it.end = lineStart(first), lineEnd(lastOff)
			table = it.key
		case unstable.KeyValue:
			for k := e.Key(); k.Next(); {
				it.key = append(it.key, string(k.Node().Data))
			}
			it.table = table
			end := int(e.Raw.Offset + e.Raw.Length)
			if end > 0 && src[end-1] == '\n' {
				end--
			}
			it.start, it.end = lineStart(int(e.Raw.Offset)), lineEnd(end)
		default:
			continue
		}
		items = append(items, it)
	}
	if err := p.Error(); err != nil {
		return nil, err
	}
	return items, nil
}

func hasPrefix(key, prefix []string) bool {
	if len(key) < len(prefix) {
		return false
	}
	for i := range prefix {
		if key[i] != prefix[i] {
			return false
		}
	}
	return true
}

// A tomlSection is a table header and the key/values under it: from the header line to the
// end of its last key/value (comments after that belong to what follows).
type tomlSection struct {
	header     tomlItem
	keyvals    []tomlItem
	start, end int
}

func tomlSections(items []tomlItem, prefix []string) []tomlSection {
	var out []tomlSection
	for i, it := range items {
		if (it.kind != unstable.Table && it.kind != unstable.ArrayTable) || !hasPrefix(it.key, prefix) {
			continue
		}
		s := tomlSection{header: it, start: it.start, end: it.end}
		for _, kv := range items[i+1:] {
			if kv.kind == unstable.Table || kv.kind == unstable.ArrayTable {
				break
			}
			if kv.kind == unstable.KeyValue {
				s.keyvals = append(s.keyvals, kv)
				s.end = kv.end
			}
		}
		out = append(out, s)
	}
	return out
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

func tomlKey(k string) string {
	if k != "" && strings.Trim(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == "" {
		return k
	}
	return tomlString(k)
}

func tomlStringArray(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = tomlString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func tomlEnv(env map[string]string) string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = tomlKey(k) + " = " + tomlString(env[k])
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

// tomlEntryBody renders our key/values; extra holds kept lines of other keys.
func tomlEntryBody(e ServerEntry, extra []string, nl string) string {
	var b strings.Builder
	b.WriteString("command = " + tomlString(e.Command) + nl)
	b.WriteString("args = " + tomlStringArray(e.Args) + nl)
	for _, l := range extra {
		b.WriteString(strings.TrimRight(l, "\r\n") + nl)
	}
	if len(e.Env) > 0 {
		b.WriteString("env = " + tomlEnv(e.Env) + nl)
	}
	return b.String()
}

// tomlManaged says key k of our entry is ours to write or drop: command, args, env, and the
// keys of a Codex HTTP entry (url, bearer_token_env_var, http_headers, env_http_headers),
// which Codex refuses next to a command ("url is not supported for stdio").
// tomlUpdatedBody is the body of our existing table sec with our keys set: command, args
// and env replace their lines where they are, transport keys go, and everything else
// (other keys, comments, blank lines) is copied in its place.
func tomlUpdatedBody(src []byte, sec *tomlSection, e ServerEntry, nl string) string {
	lines := map[string]string{
		"command": "command = " + tomlString(e.Command) + nl,
		"args":    "args = " + tomlStringArray(e.Args) + nl,
	}
	if len(e.Env) > 0 {
		lines["env"] = "env = " + tomlEnv(e.Env) + nl
	}
	placed := map[string]bool{}
	var body strings.Builder
	pos := sec.header.end
	for _, kv := range sec.keyvals {
		body.Write(src[pos:kv.start]) // comments and blank lines
		pos = kv.end
		k := kv.key[0]
		if !tomlManaged(k) {
			body.Write(src[kv.start:kv.end])
			if !bytes.HasSuffix(src[kv.start:kv.end], []byte("\n")) {
				body.WriteString(nl)
			}
			continue
		}
		if l, ok := lines[k]; ok && !placed[k] {
			body.WriteString(l)
			placed[k] = true
		}
	}
	body.Write(src[pos:sec.end])
	var head string
	for _, k := range []string{"command", "args"} {
		if !placed[k] {
			head += lines[k]
		}
	}
	out := head + body.String()
	if l, ok := lines["env"]; ok && !placed["env"] {
		if out != "" && !strings.HasSuffix(out, "\n") {
			out += nl
		}
		out += l
	}
	return out
}

func tomlManaged(k string) bool {
	switch k {
	case "command", "args", "env":
		return true
	}
	return tomlTransport(k)
}

func tomlTransport(k string) bool {
	switch k {
	case "url", "bearer_token_env_var", "http_headers", "env_http_headers":
		return true
	}
	return false
}

func tomlEntryMap(m map[string]any, keyPath []string, name string) (map[string]any, bool) {
	cur := m
	for _, k := range keyPath {
		next, ok := cur[k].(map[string]any)
		if !ok {
			return nil, false
		}
		cur = next
	}
	e, ok := cur[name].(map[string]any)
	return e, ok
}

func tomlUpToDate(entry map[string]any, e ServerEntry) bool {
	if entry["command"] != e.Command {
		return false
	}
	for k := range entry {
		if tomlTransport(k) {
			return false
		}
	}
	args, _ := entry["args"].([]any)
	if len(args) != len(e.Args) {
		return false
	}
	for i := range args {
		if args[i] != e.Args[i] {
			return false
		}
	}
	env, _ := entry["env"].(map[string]any)
	if _, has := entry["env"]; has && env == nil {
		return false
	}
	if len(env) != len(e.Env) {
		return false
	}
	for k, v := range e.Env {
		if env[k] != v {
			return false
		}
	}
	return true
}

func tomlNewline(src []byte) string {
	if bytes.Contains(src, []byte("\r\n")) {
		return "\r\n"
	}
	return "\n"
}

type splice struct {
	start, end int
	text       string
}

// applySplices replaces byte ranges (non-overlapping) and, where a range is deleted
// outright, drops the blank lines it would leave doubled.
func applySplices(src []byte, sps []splice) []byte {
	sort.Slice(sps, func(i, j int) bool { return sps[i].start > sps[j].start })
	out := bytes.Clone(src)
	for _, sp := range sps {
		before, after := out[:sp.start], out[sp.end:]
		if sp.text == "" {
			for {
				blankBefore := len(before) == 0 || bytes.HasSuffix(before, []byte("\n\n")) || bytes.HasSuffix(before, []byte("\n\r\n"))
				switch {
				case blankBefore && bytes.HasPrefix(after, []byte("\n")):
					after = after[1:]
					continue
				case blankBefore && bytes.HasPrefix(after, []byte("\r\n")):
					after = after[2:]
					continue
				}
				break
			}
			if len(after) == 0 {
				// Deleted at the end of the file: end with one newline, not a blank line.
				for bytes.HasSuffix(before, []byte("\n\n")) || bytes.HasSuffix(before, []byte("\n\r\n")) {
					before = bytes.TrimSuffix(bytes.TrimSuffix(before, []byte("\n")), []byte("\r"))
				}
			}
		}
		next := append(bytes.Clone(before), sp.text...)
		out = append(next, after...)
	}
	return out
}

func installTOML(loc Location, src []byte, e ServerEntry) ([]byte, error) {
	doc, err := decodeTOML(loc, src)
	if err != nil {
		return nil, err
	}
	nl := tomlNewline(src)
	prefix := append(append([]string{}, loc.KeyPath...), e.Name)
	existing, exists := tomlEntryMap(doc, loc.KeyPath, e.Name)
	if exists && tomlUpToDate(existing, e) {
		return src, nil
	}
	items, err := scanTOML(src)
	if err != nil {
		return nil, &ParseError{Path: loc.Path, Format: FormatTOML, Err: err}
	}
	header := "[" + strings.Join(mapSlice(prefix, tomlKey), ".") + "]" + nl
	var out []byte
	if !exists {
		if inline := tomlInlineParent(items, loc.KeyPath); inline != "" {
			return nil, fmt.Errorf("%s: %s is written as an inline table or dotted keys, which cannot be extended; rewrite it as [%s.NAME] tables, or edit it by hand", loc.Path, inline, strings.Join(loc.KeyPath, "."))
		}
		out = bytes.Clone(src)
		if len(bytes.TrimSpace(out)) > 0 {
			if !bytes.HasSuffix(out, []byte("\n")) {
				out = append(out, nl...)
			}
			if !bytes.HasSuffix(out, []byte(nl+nl)) {
				out = append(out, nl...)
			}
		} else {
			out = nil
		}
		out = append(out, header+tomlEntryBody(e, nil, nl)...)
	} else {
		secs := tomlSections(items, prefix)
		var main *tomlSection
		for i := range secs {
			if secs[i].header.kind == unstable.Table && len(secs[i].header.key) == len(prefix) {
				main = &secs[i]
			}
		}
		if main == nil {
			return nil, fmt.Errorf("%s: %s is not written as a [%s] table; move it into one or edit it by hand", loc.Path, strings.Join(prefix, "."), strings.Join(prefix, "."))
		}
		sps := []splice{{main.start, main.end, string(src[main.header.start:main.header.end]) + tomlUpdatedBody(src, main, e, nl)}}
		for _, s := range secs {
			if len(s.header.key) > len(prefix) && tomlManaged(s.header.key[len(prefix)]) {
				sps = append(sps, splice{s.start, s.end, ""})
			}
		}
		out = applySplices(src, sps)
	}
	if err := verifyTOML(loc, doc, out, e.Name, &e); err != nil {
		return nil, err
	}
	return out, nil
}

func removeTOML(loc Location, src []byte, name string) ([]byte, bool, error) {
	doc, err := decodeTOML(loc, src)
	if err != nil {
		return nil, false, err
	}
	if _, exists := tomlEntryMap(doc, loc.KeyPath, name); !exists {
		return src, false, nil
	}
	items, err := scanTOML(src)
	if err != nil {
		return nil, false, &ParseError{Path: loc.Path, Format: FormatTOML, Err: err}
	}
	prefix := append(append([]string{}, loc.KeyPath...), name)
	secs := tomlSections(items, prefix)
	if len(secs) == 0 {
		return nil, false, fmt.Errorf("%s: %s is not written as a [%s] table; remove it by hand", loc.Path, strings.Join(prefix, "."), strings.Join(prefix, "."))
	}
	var sps []splice
	for _, s := range secs {
		sps = append(sps, splice{s.start, s.end, ""})
	}
	out := applySplices(src, sps)
	if err := verifyTOML(loc, doc, out, name, nil); err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// verifyTOML checks that out parses and decodes to before with only our entry changed.
func verifyTOML(loc Location, before map[string]any, out []byte, name string, want *ServerEntry) error {
	got := map[string]any{}
	if err := toml.Unmarshal(out, &got); err != nil {
		return fmt.Errorf("%s: internal error: the edited file does not parse: %w; nothing was written (please report this)", loc.Path, err)
	}
	exp := before
	parent := exp
	for _, k := range loc.KeyPath {
		next, ok := parent[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			parent[k] = next
		}
		parent = next
	}
	if want == nil {
		delete(parent, name)
	} else {
		entry, ok := parent[name].(map[string]any)
		if !ok {
			entry = map[string]any{}
			parent[name] = entry
		}
		entry["command"] = want.Command
		args := make([]any, len(want.Args))
		for i, a := range want.Args {
			args[i] = a
		}
		entry["args"] = args
		delete(entry, "env")
		for k := range entry {
			if tomlTransport(k) {
				delete(entry, k)
			}
		}
		if len(want.Env) > 0 {
			env := map[string]any{}
			for k, v := range want.Env {
				env[k] = v
			}
			entry["env"] = env
		}
	}
	if want == nil && len(parent) == 0 {
		// Removing our table may leave an implicit [mcp_servers] that no longer exists.
		if _, ok := got[loc.KeyPath[0]]; !ok && len(loc.KeyPath) == 1 {
			delete(exp, loc.KeyPath[0])
		}
	}
	if !reflect.DeepEqual(exp, got) {
		return fmt.Errorf("%s: internal error: the edit would change more than the entry; nothing was written (please report this)", loc.Path)
	}
	return nil
}

// entriesTOML lists the entries by name; with all, keys that are not tables are listed
// too, with no command.
func entriesTOML(loc Location, src []byte, all bool) ([]ServerEntry, error) {
	doc, err := decodeTOML(loc, src)
	if err != nil {
		return nil, err
	}
	cur := doc
	for _, k := range loc.KeyPath {
		next, ok := cur[k].(map[string]any)
		if !ok {
			return nil, nil
		}
		cur = next
	}
	names := make([]string, 0, len(cur))
	for n := range cur {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []ServerEntry
	for _, n := range names {
		m, ok := cur[n].(map[string]any)
		if !ok {
			if all {
				out = append(out, ServerEntry{Name: n})
			}
			continue
		}
		e := ServerEntry{Name: n}
		e.Command, _ = m["command"].(string)
		if args, ok := m["args"].([]any); ok {
			for _, a := range args {
				s, _ := a.(string)
				e.Args = append(e.Args, s)
			}
		}
		if env, ok := m["env"].(map[string]any); ok {
			e.Env = map[string]string{}
			for k, v := range env {
				e.Env[k], _ = v.(string)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

func mapSlice(ss []string, f func(string) string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}

// tomlInlineParent returns the key of a key/value that defines keyPath (or a prefix of it)
// inline, e.g. `mcp_servers = { ... }` or `mcp_servers.x.command = ...`; "" if none.
func tomlInlineParent(items []tomlItem, keyPath []string) string {
	for _, it := range items {
		if it.kind != unstable.KeyValue {
			continue
		}
		full := append(append([]string{}, it.table...), it.key...)
		n := min(len(full), len(keyPath))
		if hasPrefix(full, keyPath[:n]) && (len(full) <= len(keyPath) || len(it.table) < len(keyPath)) {
			return strings.Join(full[:min(len(full), len(keyPath)+1)], ".")
		}
	}
	return ""
}
