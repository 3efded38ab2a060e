package mcpclientcfg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/tailscale/hujson"
)

var utf8BOM = []byte("\xef\xbb\xbf")

// A jsonDoc is a JSON or JSONC file held as a hujson syntax tree, which keeps every byte of
// whitespace and comments, so packing an unmodified tree gives back the input exactly.
type jsonDoc struct {
	root    hujson.Value
	obj     *hujson.Object
	nl      string // "\n" or "\r\n", as the file uses
	unit    string // one level of indentation, as the file uses
	compact bool   // the file is on one line; new members stay on it
	bom     bool
	fresh   bool // the file was empty
}

var hujsonErrRE = regexp.MustCompile(`^hujson: line (\d+), column (\d+): (.*)$`)

func parseJSONDoc(loc Location, src []byte) (*jsonDoc, error) {
	d := &jsonDoc{nl: "\n", unit: "  "}
	if bytes.HasPrefix(src, utf8BOM) {
		d.bom = true
		src = src[len(utf8BOM):]
	}
	if bytes.Contains(src, []byte("\r\n")) {
		d.nl = "\r\n"
	}
	if len(bytes.TrimSpace(src)) == 0 {
		d.fresh = true
		src = []byte("{}" + d.nl)
	}
	// Copy: hujson aliases its input and we mutate the tree.
	src = bytes.Clone(src)
	if loc.Format == FormatJSON {
		var v any
		if err := json.Unmarshal(src, &v); err != nil {
			perr := &ParseError{Path: loc.Path, Format: loc.Format, Err: err}
			var serr *json.SyntaxError
			if errors.As(err, &serr) {
				perr.Line, perr.Column = lineColumn(src, int(serr.Offset)-1)
				perr.Err = errors.New(serr.Error())
			}
			return nil, perr
		}
	}
	root, err := hujson.Parse(src)
	if err != nil {
		perr := &ParseError{Path: loc.Path, Format: loc.Format, Err: err}
		if m := hujsonErrRE.FindStringSubmatch(err.Error()); m != nil {
			perr.Line, _ = strconv.Atoi(m[1])
			perr.Column, _ = strconv.Atoi(m[2])
			perr.Err = errors.New(m[3])
		}
		return nil, perr
	}
	obj, ok := root.Value.(*hujson.Object)
	if !ok {
		return nil, &ParseError{Path: loc.Path, Format: loc.Format, Line: 1, Column: 1, Err: errors.New("the top level is not an object")}
	}
	d.root, d.obj = root, obj
	if len(obj.Members) > 0 {
		ind, nl := indentOf(obj.Members[0].Name.BeforeExtra)
		d.compact = !nl
		if nl && ind != "" && strings.Trim(ind, " \t") == "" {
			d.unit = ind
		}
	}
	return d, nil
}

func (d *jsonDoc) bytes() []byte {
	out := d.root.Pack()
	if d.fresh && !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, d.nl...)
	}
	if d.bom {
		out = append(bytes.Clone(utf8BOM), out...)
	}
	return out
}

// indentOf returns what follows the last newline in extra, and whether there is a newline.
func indentOf(extra []byte) (string, bool) {
	i := bytes.LastIndexByte(extra, '\n')
	if i < 0 {
		return "", false
	}
	return string(extra[i+1:]), true
}

func memberName(m *hujson.ObjectMember) string {
	lit, ok := m.Name.Value.(hujson.Literal)
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(lit, &s) != nil {
		return ""
	}
	return s
}

// findMember returns the index of the last member called name (JSON readers let the last
// duplicate win), or -1.
func findMember(obj *hujson.Object, name string) int {
	for i := len(obj.Members) - 1; i >= 0; i-- {
		if memberName(&obj.Members[i]) == name {
			return i
		}
	}
	return -1
}

// render encodes v as the value of a member indented by indent, one level being d.unit, or
// on one line when pretty is false.
func (d *jsonDoc) render(v any, pretty bool, indent string) hujson.ValueTrimmed {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if pretty {
		enc.SetIndent(indent, d.unit)
	}
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("mcpclientcfg: encoding %T: %v", v, err)) // only our own types get here
	}
	b := bytes.TrimRight(buf.Bytes(), "\n")
	if d.nl != "\n" {
		b = bytes.ReplaceAll(b, []byte("\n"), []byte(d.nl))
	}
	val, err := hujson.Parse(b)
	if err != nil {
		panic(fmt.Sprintf("mcpclientcfg: reparsing encoded JSON: %v", err))
	}
	return val.Value
}

// layout says how members of obj are laid out: on their own lines indented by indent, or
// inline. objIndent is the indentation of the line that opens obj.
func (d *jsonDoc) layout(obj *hujson.Object, objIndent string) (pretty bool, indent string) {
	if n := len(obj.Members); n > 0 {
		ind, nl := indentOf(obj.Members[n-1].Name.BeforeExtra)
		return nl, ind
	}
	if d.compact {
		return false, ""
	}
	return true, objIndent + d.unit
}

// insertMember appends name: v to obj, laid out like its siblings.
func (d *jsonDoc) insertMember(obj *hujson.Object, objIndent, name string, v any) {
	pretty, indent := d.layout(obj, objIndent)
	m := hujson.ObjectMember{
		Name:  hujson.Value{Value: hujson.String(name)},
		Value: hujson.Value{Value: d.render(v, pretty, indent)},
	}
	if pretty {
		m.Value.BeforeExtra = hujson.Extra(" ")
	}
	if n := len(obj.Members); n > 0 {
		last := &obj.Members[n-1]
		first := &obj.Members[0]
		m.Name.AfterExtra = bytes.Clone(first.Name.AfterExtra)
		m.Value.BeforeExtra = bytes.Clone(first.Value.BeforeExtra)
		if last.Value.AfterExtra != nil {
			m.Value.AfterExtra = hujson.Extra{} // keep the trailing comma style
		}
		if pretty {
			// A comment on the last member's line must stay on that line, after the comma
			// that now follows it.
			head, rest := splitHead(obj.AfterExtra)
			m.Name.BeforeExtra = hujson.Extra(string(head) + d.nl + indent)
			if len(rest) == 0 {
				rest = hujson.Extra(d.nl + objIndent)
			}
			obj.AfterExtra = rest
		} else {
			m.Name.BeforeExtra = bytes.Clone(last.Name.BeforeExtra)
		}
	} else if pretty {
		m.Name.BeforeExtra = hujson.Extra(d.nl + indent)
		if !bytes.ContainsRune(obj.AfterExtra, '\n') && len(bytes.TrimSpace(obj.AfterExtra)) == 0 {
			obj.AfterExtra = hujson.Extra(d.nl + objIndent)
		}
	}
	obj.Members = append(obj.Members, m)
}

// splitHead splits extra (whitespace and comments between two tokens) into what is on the
// first line, a comment ending the previous token's line, and the rest from the first
// newline on. A block comment that spans the newline stays whole in rest.
func splitHead(extra []byte) (head, rest []byte) {
	i := bytes.IndexByte(extra, '\n')
	if i < 0 {
		return extra, nil
	}
	head = bytes.TrimSuffix(extra[:i], []byte("\r"))
	if open := bytes.LastIndex(head, []byte("/*")); open >= 0 && !bytes.Contains(head[open:], []byte("*/")) {
		return nil, extra
	}
	return bytes.Clone(head), bytes.Clone(extra[len(head):])
}

// removeMember deletes member i of obj with its leading comments and the comment ending its
// line, keeping a comment that ends the previous member's line.
func removeMember(obj *hujson.Object, i int) {
	m := obj.Members[i]
	head, _ := splitHead(m.Name.BeforeExtra)
	if len(bytes.TrimSpace(head)) == 0 {
		head = nil
	}
	last := i == len(obj.Members)-1
	switch {
	case !last:
		next := &obj.Members[i+1]
		if !bytes.ContainsRune(next.Name.BeforeExtra, '\n') {
			// next was on our line: it takes our place.
			next.Name.BeforeExtra = append(bytes.Clone(m.Name.BeforeExtra), bytes.TrimLeft(next.Name.BeforeExtra, " \t")...)
			break
		}
		_, rest := splitHead(next.Name.BeforeExtra)
		next.Name.BeforeExtra = append(head, rest...)
	case i > 0 && m.Value.AfterExtra == nil:
		// The previous member becomes last: it loses its comma.
		prev := &obj.Members[i-1]
		_, rest := splitHead(obj.AfterExtra)
		ae := append(bytes.Clone(prev.Value.AfterExtra), head...)
		prev.Value.AfterExtra = nil
		obj.AfterExtra = append(ae, rest...)
	default:
		_, rest := splitHead(obj.AfterExtra)
		obj.AfterExtra = append(head, rest...)
	}
	obj.Members = append(obj.Members[:i], obj.Members[i+1:]...)
	if len(obj.Members) == 0 && len(bytes.TrimSpace(obj.AfterExtra)) == 0 {
		obj.AfterExtra = nil
	}
}

// A field is one member of a server entry that we manage, with its wanted value; nil
// means the member must be absent.
type field struct {
	key  string
	want any
}

// jsonEntry is how a server entry is written: its managed fields, in file order.
type jsonEntry []field

// MarshalJSON writes the present fields as an object, in order.
func (je jsonEntry) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	n := 0
	for _, f := range je {
		if f.want == nil {
			continue
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		n++
		if err := marshalNoEscape(&buf, f.key); err != nil {
			return nil, err
		}
		buf.WriteByte(':')
		if err := marshalNoEscape(&buf, f.want); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// marshalNoEscape appends v's JSON encoding to buf, leaving &, < and > as they are: a URL
// in args must read as the user typed it.
func marshalNoEscape(buf *bytes.Buffer, v any) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // Encode's newline
	return nil
}

// newJSONEntry lays e out for loc's client. Its fields are the members of an entry we own:
// an existing entry keeps its other members. The keys of a remote (HTTP or SSE) entry
// across clients are managed as absent: a client given both a command and a URL rejects
// the entry or picks the URL.
func newJSONEntry(e ServerEntry, loc Location) jsonEntry {
	var env any
	if len(e.Env) > 0 {
		env = e.Env
	}
	if loc.Shape == ShapeOpencode {
		return jsonEntry{{"type", "local"}, {"command", e.CommandLine()}, {"environment", env},
			{"url", nil}, {"headers", nil}, {"oauth", nil}}
	}
	args := e.Args
	if args == nil {
		args = []string{}
	}
	je := jsonEntry{{"command", e.Command}, {"args", args}, {"env", env}}
	if loc.StdioType {
		je = append(jsonEntry{{"type", "stdio"}}, je...)
	}
	// url and headers (Claude, Cursor, VS Code, Gemini), serverUrl (Windsurf), httpUrl (Gemini).
	for _, k := range []string{"url", "headers", "serverUrl", "httpUrl"} {
		je = append(je, field{k, nil})
	}
	return je
}

// dropsType says an existing entry's "type" must go, for a client whose entries do not
// carry one: only "stdio" (or nothing) agrees with a command.
func dropsType(v any, loc Location) bool {
	return !loc.StdioType && loc.Shape == ShapeCommandArgs && v != nil && v != "stdio"
}

// descend walks keyPath from the top object; it returns the object at the end and the
// indentation of the line that opens it, or the index in keyPath of the first missing key.
func (d *jsonDoc) descend(keyPath []string) (obj *hujson.Object, indent string, missing int, err error) {
	obj = d.obj
	for i, k := range keyPath {
		j := findMember(obj, k)
		if j < 0 {
			return obj, indent, i, nil
		}
		m := &obj.Members[j]
		child, ok := m.Value.Value.(*hujson.Object)
		if !ok {
			if lit, isLit := m.Value.Value.(hujson.Literal); isLit && string(lit) == "null" {
				return obj, indent, i, nil
			}
			return nil, "", 0, fmt.Errorf("%q is not an object; fix it by hand or pass --config to use another file", strings.Join(keyPath[:i+1], "."))
		}
		if ind, nl := indentOf(m.Name.BeforeExtra); nl {
			indent = ind
		}
		obj = child
	}
	return obj, indent, -1, nil
}

// install adds or updates the entry; other members, and unknown members of an existing
// entry, are kept.
func (d *jsonDoc) install(keyPath []string, e ServerEntry, loc Location) error {
	je := newJSONEntry(e, loc)
	obj, indent, missing, err := d.descend(keyPath)
	if err != nil {
		return err
	}
	if missing >= 0 {
		var v any = map[string]any{e.Name: je}
		for i := len(keyPath) - 1; i > missing; i-- {
			v = map[string]any{keyPath[i]: v}
		}
		if j := findMember(obj, keyPath[missing]); j >= 0 { // null
			m := &obj.Members[j]
			ind, nl := indentOf(m.Name.BeforeExtra)
			m.Value.Value = d.render(v, nl, ind)
			return nil
		}
		d.insertMember(obj, indent, keyPath[missing], v)
		return nil
	}
	j := findMember(obj, e.Name)
	if j < 0 {
		d.insertMember(obj, indent, e.Name, je)
		return nil
	}
	m := &obj.Members[j]
	ind, nl := indentOf(m.Name.BeforeExtra)
	entry, ok := m.Value.Value.(*hujson.Object)
	if !ok {
		m.Value.Value = d.render(je, nl, ind)
		return nil
	}
	d.updateEntry(entry, ind, je)
	if k := findMember(entry, "type"); k >= 0 {
		var v any
		_ = json.Unmarshal(standardize(entry.Members[k].Value.Value), &v)
		if dropsType(v, loc) {
			removeMember(entry, k)
		}
	}
	return nil
}

// updateEntry sets the managed fields of an existing entry, in place.
func (d *jsonDoc) updateEntry(entry *hujson.Object, ind string, je jsonEntry) {
	for _, f := range je {
		k := findMember(entry, f.key)
		switch {
		case f.want == nil && k >= 0:
			removeMember(entry, k)
		case f.want == nil:
		case k < 0:
			d.insertMember(entry, ind, f.key, f.want)
		case !jsonEqual(entry.Members[k].Value.Value, f.want):
			fm := &entry.Members[k]
			find, fnl := indentOf(fm.Name.BeforeExtra)
			if !fnl {
				_, find = d.layout(entry, ind)
			}
			fm.Value.Value = d.render(f.want, fnl, find)
		}
	}
}

// remove deletes the entry; found is false when there is none.
func (d *jsonDoc) remove(keyPath []string, name string) (found bool, err error) {
	obj, _, missing, err := d.descend(keyPath)
	if err != nil || missing >= 0 {
		return false, err
	}
	j := findMember(obj, name)
	if j < 0 {
		return false, nil
	}
	removeMember(obj, j)
	return true, nil
}

// entries lists the stdio entries under keyPath in file order; with all, members that are
// not stdio entries are listed too, with no command.
func (d *jsonDoc) entries(loc Location, all bool) ([]ServerEntry, error) {
	obj, _, missing, err := d.descend(loc.KeyPath)
	if err != nil || missing >= 0 {
		return nil, err
	}
	var out []ServerEntry
	for i := range obj.Members {
		m := &obj.Members[i]
		e, ok := decodeEntry(standardize(m.Value.Value), loc.Shape)
		e.Name = memberName(m)
		if ok || all {
			out = append(out, e) // without a command when it is not a stdio entry we can read
		}
	}
	return out, nil
}

// decodeEntry reads a stdio entry of the given shape; ok is false for anything else.
func decodeEntry(b []byte, shape Shape) (e ServerEntry, ok bool) {
	if shape == ShapeOpencode {
		var oe struct {
			Command     []string          `json:"command"`
			Environment map[string]string `json:"environment"`
		}
		if json.Unmarshal(b, &oe) != nil || len(oe.Command) == 0 {
			return e, false
		}
		return ServerEntry{Command: oe.Command[0], Args: oe.Command[1:], Env: oe.Environment}, true
	}
	var je struct {
		Command string            `json:"command"`
		Args    []string          `json:"args"`
		Env     map[string]string `json:"env"`
	}
	if json.Unmarshal(b, &je) != nil {
		return e, false
	}
	return ServerEntry{Command: je.Command, Args: je.Args, Env: je.Env}, true
}

// keys lists the member names of the object at keyPath.
func (d *jsonDoc) keys(keyPath []string) []string {
	obj, _, missing, err := d.descend(keyPath)
	if err != nil || missing >= 0 {
		return nil
	}
	var out []string
	for i := range obj.Members {
		out = append(out, memberName(&obj.Members[i]))
	}
	return out
}

// standardize turns a JSONC value into plain JSON.
func standardize(v hujson.ValueTrimmed) []byte {
	b := hujson.Value{Value: v}.Pack()
	std, err := hujson.Standardize(bytes.Clone(b))
	if err != nil {
		return b
	}
	return std
}

func jsonEqual(v hujson.ValueTrimmed, want any) bool {
	var got any
	if json.Unmarshal(standardize(v), &got) != nil {
		return false
	}
	return reflect.DeepEqual(got, toGeneric(want))
}

// toGeneric converts v to what encoding/json decodes its encoding to.
func toGeneric(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var g any
	if json.Unmarshal(b, &g) != nil {
		return nil
	}
	return g
}

// decodeJSONC decodes a JSON or JSONC document into generic values.
func decodeJSONC(b []byte) (any, error) {
	b = bytes.TrimPrefix(b, utf8BOM)
	if len(bytes.TrimSpace(b)) == 0 {
		return map[string]any{}, nil
	}
	std, err := hujson.Standardize(bytes.Clone(b))
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(std, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// expectJSON applies an install (want != nil) or a removal to a decoded document, the way
// install and remove should have changed the file.
func expectJSON(doc any, loc Location, name string, want jsonEntry) any {
	keyPath := loc.KeyPath
	root, _ := doc.(map[string]any)
	if root == nil {
		root = map[string]any{}
	}
	obj := root
	for _, k := range keyPath {
		child, _ := obj[k].(map[string]any)
		if child == nil {
			if want == nil {
				return root
			}
			child = map[string]any{}
			obj[k] = child
		}
		obj = child
	}
	if want == nil {
		delete(obj, name)
		return root
	}
	g := toGeneric(want).(map[string]any)
	existing, ok := obj[name].(map[string]any)
	if !ok {
		obj[name] = g
		return root
	}
	for _, f := range want {
		if f.want == nil {
			delete(existing, f.key)
		} else {
			existing[f.key] = g[f.key]
		}
	}
	if t, ok := existing["type"]; ok && dropsType(t, loc) {
		delete(existing, "type")
	}
	return root
}

// verifyJSON checks that after parses in its format and differs from before only as
// intended: our safety net against an edit that would damage anything else.
func verifyJSON(loc Location, before, after []byte, name string, want jsonEntry) error {
	if loc.Format == FormatJSON && !json.Valid(bytes.TrimPrefix(after, utf8BOM)) {
		return errors.New("internal error: the edited file is not valid JSON; nothing was written (please report this)")
	}
	got, err := decodeJSONC(after)
	if err != nil {
		return fmt.Errorf("internal error: the edited file does not parse: %w; nothing was written (please report this)", err)
	}
	old, err := decodeJSONC(before)
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(expectJSON(old, loc, name, want), got) {
		return errors.New("internal error: the edit would change more than the entry; nothing was written (please report this)")
	}
	return nil
}

// withProjectKey returns loc keyed by the project already in the file that is the same
// directory as loc's (e.g. "c:\\Users\\u\\proj" for "C:/Users/u/proj"), so that Claude
// Code's local-scope entries go to the project it knows; loc when there is none.
func (d *jsonDoc) withProjectKey(loc Location) Location {
	kp := loc.KeyPath
	if loc.Client != ClaudeCode || loc.Scope != ScopeLocal || len(kp) != 3 || kp[0] != "projects" {
		return loc
	}
	keys := d.keys(kp[:1])
	for _, k := range keys {
		if k == kp[1] {
			return loc
		}
	}
	for _, k := range keys {
		if sameProject(k, kp[1]) {
			loc.KeyPath = []string{kp[0], k, kp[2]}
			return loc
		}
	}
	return loc
}

func installJSON(loc Location, src []byte, e ServerEntry) ([]byte, error) {
	d, err := parseJSONDoc(loc, src)
	if err != nil {
		return nil, err
	}
	loc = d.withProjectKey(loc)
	if err := d.install(loc.KeyPath, e, loc); err != nil {
		return nil, fmt.Errorf("%s: %w", loc.Path, err)
	}
	out := d.bytes()
	if bytes.Equal(out, src) {
		return src, nil
	}
	if err := verifyJSON(loc, src, out, e.Name, newJSONEntry(e, loc)); err != nil {
		return nil, fmt.Errorf("%s: %w", loc.Path, err)
	}
	return out, nil
}

func removeJSON(loc Location, src []byte, name string) ([]byte, bool, error) {
	d, err := parseJSONDoc(loc, src)
	if err != nil {
		return nil, false, err
	}
	loc = d.withProjectKey(loc)
	found, err := d.remove(loc.KeyPath, name)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", loc.Path, err)
	}
	if !found {
		return src, false, nil
	}
	out := d.bytes()
	if err := verifyJSON(loc, src, out, name, nil); err != nil {
		return nil, false, fmt.Errorf("%s: %w", loc.Path, err)
	}
	return out, true, nil
}
