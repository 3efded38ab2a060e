// Package jsonscan validates JSON text without recursion.
//
// A recursive validator (gjson.ValidBytes among them) uses goroutine stack in proportion to
// the nesting depth of its input, so one line of ten million '[' ends the process with a
// fatal stack overflow that no recover can catch. [Valid] walks the text in one loop and
// keeps one bit per open container, so it needs O(maxDepth/64) words of memory whatever the
// input, and allocates nothing for valid input.
//
// It accepts exactly what encoding/json.Valid accepts (RFC 8259), and what gjson.ValidBytes
// accepts up to the depth limit. Like both, it checks the grammar only: bytes of invalid
// UTF-8 inside strings and \u escapes of unpaired surrogates are accepted, as decoders
// replace them with U+FFFD rather than refuse them.
package jsonscan

import (
	"errors"
	"fmt"
)

// DefaultMaxDepth is the nesting limit used when Valid is given 0 or less. It is
// encoding/json's own limit (10 000 nested arrays or objects), so a message Valid accepts
// can also be decoded by the standard library; real MCP messages nest a few dozen levels
// at most (JSON Schemas of tool inputs are the deepest), far below it.
const DefaultMaxDepth = 10000

// ErrSyntax is wrapped by the error of Valid for input that is not JSON text.
var ErrSyntax = errors.New("not valid JSON")

// ErrTooDeep is wrapped by the error of Valid for JSON nested deeper than the limit.
var ErrTooDeep = errors.New("JSON nested too deeply")

// An Error says why and where Valid refused its input. Test its kind with errors.Is
// against ErrSyntax or ErrTooDeep.
type Error struct {
	// Offset is the index of the byte where the input stopped being acceptable; it is the
	// length of the input when the input ended too early.
	Offset int
	// MaxDepth is the limit that was exceeded (ErrTooDeep only).
	MaxDepth int
	kind     error
}

func (e *Error) Error() string {
	if e.kind == ErrTooDeep {
		return fmt.Sprintf("%v: more than %d nested arrays or objects (at byte %d)", e.kind, e.MaxDepth, e.Offset)
	}
	return fmt.Sprintf("%v: unexpected input at byte %d", e.kind, e.Offset)
}

// Unwrap returns ErrSyntax or ErrTooDeep.
func (e *Error) Unwrap() error { return e.kind }

func syntaxError(i int) error { return &Error{Offset: i, kind: ErrSyntax} }

// stackWords is how many 64-bit words of container kinds live on Valid's own stack frame:
// enough for DefaultMaxDepth, so the default allocates nothing.
const stackWords = (DefaultMaxDepth + 63) / 64

// kinds records, one bit per open container, whether it is an object (1) or an array (0).
type kinds []uint64

func (k kinds) set(depth int, object bool) {
	w, b := uint(depth)/64, uint(depth)%64
	if object {
		k[w] |= 1 << b
	} else {
		k[w] &^= 1 << b
	}
}

func (k kinds) object(depth int) bool {
	return k[uint(depth)/64]&(1<<(uint(depth)%64)) != 0
}

// Valid returns nil if b is exactly one JSON text (RFC 8259), surrounded by nothing but
// whitespace, with no more than maxDepth arrays and objects nested in one another; zero or
// less means DefaultMaxDepth. Otherwise it returns an *Error wrapping ErrTooDeep or
// ErrSyntax. Its stack use does not depend on the input.
func Valid(b []byte, maxDepth int) error {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	var small [stackWords]uint64
	k := kinds(small[:])
	if n := (maxDepth + 63) / 64; n > len(small) {
		k = make(kinds, n)
	}
	depth, ok := 0, false
	i := skipSpace(b, 0)
value:
	if i >= len(b) {
		return syntaxError(i)
	}
	switch b[i] {
	case '{', '[':
		if depth == maxDepth {
			return &Error{Offset: i, MaxDepth: maxDepth, kind: ErrTooDeep}
		}
		object := b[i] == '{'
		k.set(depth, object)
		depth++
		i = skipSpace(b, i+1)
		if i < len(b) && (b[i] == '}' && object || b[i] == ']' && !object) {
			depth--
			i++
			goto next
		}
		if object {
			goto key
		}
		goto value
	case '"':
		i, ok = scanString(b, i+1)
	case 't', 'f', 'n':
		i, ok = scanLiteral(b, i)
	default:
		i, ok = scanNumber(b, i)
	}
	if !ok {
		return syntaxError(i)
	}
next:
	i = skipSpace(b, i)
	if depth == 0 {
		if i != len(b) {
			return syntaxError(i)
		}
		return nil
	}
	if i < len(b) {
		switch object := k.object(depth - 1); {
		case b[i] == ',':
			i = skipSpace(b, i+1)
			if object {
				goto key
			}
			goto value
		case b[i] == '}' && object, b[i] == ']' && !object:
			depth--
			i++
			goto next
		}
	}
	return syntaxError(i)
key:
	if i >= len(b) || b[i] != '"' {
		return syntaxError(i)
	}
	if i, ok = scanString(b, i+1); !ok {
		return syntaxError(i)
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return syntaxError(i)
	}
	i = skipSpace(b, i+1)
	goto value
}

// skipSpace returns the index of the first byte at or after i that is not JSON whitespace.
func skipSpace(b []byte, i int) int {
	for ; i < len(b); i++ {
		if c := b[i]; c > ' ' || (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			return i
		}
	}
	return i
}

// stringSpecial marks the bytes that end the plain run of a string: its closing quote, the
// start of an escape, and the control characters a string must not hold raw.
var stringSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// scanString checks the string whose opening quote is at i-1 and returns the index after
// its closing quote, or the index of the first unacceptable byte and false.
func scanString(b []byte, i int) (int, bool) {
	for {
		for i < len(b) && !stringSpecial[b[i]] {
			i++
		}
		if i >= len(b) {
			return i, false
		}
		switch b[i] {
		case '"':
			return i + 1, true
		case '\\':
			i++
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				for range 4 {
					i++
					if i >= len(b) || !isHex(b[i]) {
						return i, false
					}
				}
				i++
			default:
				return i, false
			}
		default:
			return i, false // a raw control character
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// scanLiteral checks that the word starting at i, which begins with t, f or n, is true,
// false or null.
func scanLiteral(b []byte, i int) (int, bool) {
	word := "null"
	switch b[i] {
	case 't':
		word = "true"
	case 'f':
		word = "false"
	}
	if len(b)-i >= len(word) && string(b[i:i+len(word)]) == word {
		return i + len(word), true
	}
	return i, false
}

// scanNumber checks the number that starts at i and returns the index after it:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. What follows is the caller's to check, so
// "01" fails there, at the 1.
func scanNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b) || !isDigit(b[i]):
		return i, false
	case b[i] == '0':
		i++
	default:
		i = skipDigits(b, i+1)
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		i = skipDigits(b, i+1)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		i = skipDigits(b, i+1)
	}
	return i, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func skipDigits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}
