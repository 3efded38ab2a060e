package mcpclientcfg

import (
	"bytes"
	"fmt"
)

// A ParseError says a config file is not valid in its format. Files that do not parse are
// never written.
type ParseError struct {
	Path   string
	Format Format
	// Line and Column are 1-based; 0 when unknown.
	Line, Column int
	Err          error
}

func (e *ParseError) Error() string {
	where := e.Path
	if where == "" {
		where = "config"
	}
	if e.Line > 0 {
		where = fmt.Sprintf("%s:%d:%d", where, e.Line, e.Column)
	}
	return fmt.Sprintf("%s: not valid %s: %v (the file was left unchanged; fix it, or pass --config to use another file)", where, e.Format, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// lineColumn converts a byte offset in b to a 1-based line and column (in bytes).
func lineColumn(b []byte, off int) (line, col int) {
	if off > len(b) {
		off = len(b)
	}
	if off < 0 {
		off = 0
	}
	line = 1 + bytes.Count(b[:off], []byte("\n"))
	col = 1 + off - (bytes.LastIndexByte(b[:off], '\n') + 1)
	return line, col
}
