package jsonscan

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestValid(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	deepObj := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	tests := []struct {
		desc     string
		in       string
		maxDepth int
		want     error // nil, ErrSyntax or ErrTooDeep
		offset   int   // of the error
	}{
		{desc: "request", in: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}`},
		{desc: "batch", in: ` [ {"id":1} , {"id":"x"} ] `},
		{desc: "scalars", in: `[true,false,null,0,-0,1.5,-1e10,2E+3,3e-2,"",{}]`},
		{desc: "whitespace", in: "\t\r\n {\n\"a\"\t:\r[ ]\n}\n"},
		{desc: "escapes", in: `"\" \\ \/ \b \f \n \r \t \u00e9 \uD83D\uDE00"`},
		{desc: "lone surrogate", in: `"\uD800"`},
		{desc: "invalid UTF-8", in: "\"\xff\xfe\""},
		{desc: "raw DEL and NUL-free high bytes", in: "\"\x7f\u00e9\""},
		{desc: "empty", in: ``, want: ErrSyntax, offset: 0},
		{desc: "only space", in: `  `, want: ErrSyntax, offset: 2},
		{desc: "two values", in: `{} {}`, want: ErrSyntax, offset: 3},
		{desc: "trailing comma array", in: `[1,]`, want: ErrSyntax, offset: 3},
		{desc: "trailing comma object", in: `{"a":1,}`, want: ErrSyntax, offset: 7},
		{desc: "leading comma", in: `[,1]`, want: ErrSyntax, offset: 1},
		{desc: "missing colon", in: `{"a" 1}`, want: ErrSyntax, offset: 5},
		{desc: "key not string", in: `{1:2}`, want: ErrSyntax, offset: 1},
		{desc: "mismatched", in: `[1}`, want: ErrSyntax, offset: 2},
		{desc: "mismatched nested", in: `{"a":[}`, want: ErrSyntax, offset: 6},
		{desc: "unclosed", in: `{"a":[1`, want: ErrSyntax, offset: 7},
		{desc: "extra close", in: `[]]`, want: ErrSyntax, offset: 2},
		{desc: "leading zero", in: `01`, want: ErrSyntax, offset: 1},
		{desc: "minus alone", in: `-`, want: ErrSyntax, offset: 1},
		{desc: "dot no digits", in: `1.`, want: ErrSyntax, offset: 2},
		{desc: "leading dot", in: `.5`, want: ErrSyntax, offset: 0},
		{desc: "exp no digits", in: `1e+`, want: ErrSyntax, offset: 3},
		{desc: "plus sign", in: `+1`, want: ErrSyntax, offset: 0},
		{desc: "hex", in: `0x1`, want: ErrSyntax, offset: 1},
		{desc: "NaN", in: `NaN`, want: ErrSyntax, offset: 0},
		{desc: "bad literal", in: `tru`, want: ErrSyntax, offset: 0},
		{desc: "literal prefix", in: `nulll`, want: ErrSyntax, offset: 4},
		{desc: "raw newline in string", in: "\"a\nb\"", want: ErrSyntax, offset: 2},
		{desc: "bad escape", in: `"\x"`, want: ErrSyntax, offset: 2},
		{desc: "short unicode escape", in: `"\u12"`, want: ErrSyntax, offset: 5},
		{desc: "unterminated string", in: `"abc`, want: ErrSyntax, offset: 4},
		{desc: "escape at end", in: `"\`, want: ErrSyntax, offset: 2},
		{desc: "single quotes", in: `'a'`, want: ErrSyntax, offset: 0},
		{desc: "vertical tab is not space", in: "\v1", want: ErrSyntax, offset: 0},
		{desc: "BOM", in: "\ufeff{}", want: ErrSyntax, offset: 0},
		{desc: "depth at limit", in: deep(5), maxDepth: 5},
		{desc: "depth over limit", in: deep(6), maxDepth: 5, want: ErrTooDeep, offset: 5},
		{desc: "object depth over limit", in: deepObj(3), maxDepth: 2, want: ErrTooDeep, offset: 10},
		{desc: "default limit", in: deep(DefaultMaxDepth)},
		{desc: "default limit exceeded", in: deep(DefaultMaxDepth + 1), want: ErrTooDeep, offset: DefaultMaxDepth},
		{desc: "limit beyond the stack words", in: deep(3 * DefaultMaxDepth), maxDepth: 3 * DefaultMaxDepth},
		{desc: "deep unclosed", in: strings.Repeat("[", 1000), want: ErrSyntax, offset: 1000},
		{desc: "deep then bad", in: deep(3) + "x", want: ErrSyntax, offset: 6},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			err := Valid([]byte(tc.in), tc.maxDepth)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Valid(%.40q) = %v, want nil", tc.in, err)
				}
				return
			}
			var e *Error
			if !errors.Is(err, tc.want) || !errors.As(err, &e) {
				t.Fatalf("Valid(%.40q) = %v, want %v", tc.in, err, tc.want)
			}
			if e.Offset != tc.offset {
				t.Errorf("Valid(%.40q) offset = %d, want %d (%v)", tc.in, e.Offset, tc.offset, err)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`[[`, "not valid JSON: unexpected input at byte 2"},
		{`[[[]]]`, "JSON nested too deeply: more than 2 nested arrays or objects (at byte 2)"},
	} {
		if got := fmt.Sprint(Valid([]byte(tc.in), 2)); got != tc.want {
			t.Errorf("Valid(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestTenMillionBrackets is the input that overflowed the goroutine stack of a recursive
// validator: it must fail with ErrTooDeep, quickly and without allocating.
func TestTenMillionBrackets(t *testing.T) {
	in := []byte(strings.Repeat("[", 10_000_000))
	var err error
	allocs := testing.AllocsPerRun(1, func() { err = Valid(in, 0) })
	if !errors.Is(err, ErrTooDeep) {
		t.Fatalf("Valid = %v, want ErrTooDeep", err)
	}
	if allocs > 1 { // the *Error
		t.Errorf("Valid allocated %v times, want at most 1", allocs)
	}
}

func TestNoAllocations(t *testing.T) {
	msg := benchMessage(1024)
	if allocs := testing.AllocsPerRun(100, func() { _ = Valid(msg, 0) }); allocs != 0 {
		t.Errorf("Valid of a valid message allocated %v times, want 0", allocs)
	}
}

// FuzzValid checks Valid against encoding/json.Valid, whose depth limit is the same as
// DefaultMaxDepth, and against gjson.ValidBytes where gjson cannot overflow its stack.
func FuzzValid(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hi\n\u00e9"}]}}`,
		`[1,-0.5e+3,true,false,null,"\ud800"]`, `01`, `1.`, `[1,]`, `{"a" 1}`, `"\x"`,
		"\"\xff\"", " \t\n\r{} ", `[}`, `{]`,
		strings.Repeat("[", DefaultMaxDepth) + strings.Repeat("]", DefaultMaxDepth),
		strings.Repeat("[", DefaultMaxDepth+1) + strings.Repeat("]", DefaultMaxDepth+1),
		strings.Repeat(`{"a":[`, 3000) + strings.Repeat("]}", 3000),
		strings.Repeat("[", 20) + "1" + strings.Repeat("]", 20),
		strings.Repeat(`{"a":`, 9) + "1" + strings.Repeat("}", 9),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Valid(b, 0)
		std := json.Valid(b)
		if (err == nil) != std {
			t.Fatalf("Valid(%q) = %v, encoding/json.Valid = %v", b, err, std)
		}
		if err != nil && !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrTooDeep) {
			t.Fatalf("Valid(%q) = %v: neither ErrSyntax nor ErrTooDeep", b, err)
		}
		// A small limit must agree with the default one wherever it does not cut in, so that
		// short inputs exercise the depth bookkeeping too.
		var small, full *Error
		if errSmall := Valid(b, 8); errSmall == nil {
			if err != nil {
				t.Fatalf("Valid(%q, 8) = nil, Valid(%q, 0) = %v", b, b, err)
			}
		} else if errors.As(errSmall, &small) && errors.Is(errSmall, ErrSyntax) {
			if !errors.As(err, &full) || !errors.Is(err, ErrSyntax) || full.Offset != small.Offset {
				t.Fatalf("Valid(%q, 8) = %v, Valid(%q, 0) = %v", b, errSmall, b, err)
			}
		}
		if errors.Is(err, ErrTooDeep) {
			return // gjson would recurse as deep as the input
		}
		if g := gjson.ValidBytes(b); (err == nil) != g {
			t.Fatalf("Valid(%q) = %v, gjson.ValidBytes = %v", b, err, g)
		}
	})
}
