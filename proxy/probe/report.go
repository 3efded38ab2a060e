package probe

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// A Verdict is the outcome of one [Step].
type Verdict string

// The verdicts, as they appear in JSON. Text output shows them as ok, warn, FAIL and skip.
const (
	// OK: the step passed.
	OK Verdict = "ok"
	// Warn: the step passed, but something is likely to surprise the user.
	Warn Verdict = "warn"
	// Fail: the step failed; the report as a whole fails.
	Fail Verdict = "fail"
	// Skip: the step could not run because an earlier one failed.
	Skip Verdict = "skip"
)

// label is the verdict as text output shows it: failures stand out in capitals.
func (v Verdict) label() string {
	if v == Fail {
		return "FAIL"
	}
	return string(v)
}

// A Step is one check of the report.
type Step struct {
	// Number is the step's position, from 1; [Report.Add] sets it.
	Number int `json:"step"`
	// Name is a short stable identifier: configuration, credentials, token, reachability,
	// initialize, tools.
	Name string `json:"name"`
	// Checked says what was checked, e.g. "MCP initialize with the token".
	Checked string `json:"checked"`
	// Verdict is the outcome.
	Verdict Verdict `json:"verdict"`
	// Found says what was found.
	Found string `json:"found"`
	// Note explains a warning or a failure: what it means for a real session.
	Note string `json:"note,omitempty"`
	// Remedy says what to do, for failures and warnings; empty when nothing is to be done.
	Remedy string `json:"remedy,omitempty"`
	// Details are the step's findings as data, for --json.
	Details map[string]any `json:"details,omitempty"`
}

// A Report is the list of steps of one debug run.
type Report struct {
	// URL is the MCP endpoint checked.
	URL string `json:"url"`
	// OK is true when no step failed (warnings allowed).
	OK bool `json:"ok"`
	// Steps are the steps in order.
	Steps []Step `json:"steps"`
}

// Add appends s, numbering it, and keeps OK up to date.
func (r *Report) Add(s Step) {
	s.Number = len(r.Steps) + 1
	r.Steps = append(r.Steps, s)
	r.OK = r.Passed()
}

// Passed reports whether no step failed or was skipped.
func (r *Report) Passed() bool {
	for _, s := range r.Steps {
		if s.Verdict == Fail || s.Verdict == Skip {
			return false
		}
	}
	return true
}

// WriteText writes one line per step ("ok    3. token: ..."), indented note and fix lines
// under it, and a closing summary line.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, s := range r.Steps {
		fmt.Fprintf(&b, "%-4s  %d. %s: %s\n", s.Verdict.label(), s.Number, s.Checked, s.Found)
		if s.Note != "" {
			fmt.Fprintf(&b, "          note: %s\n", s.Note)
		}
		if s.Remedy != "" {
			fmt.Fprintf(&b, "          fix:  %s\n", s.Remedy)
		}
	}
	var failed, warned []string
	for _, s := range r.Steps {
		switch s.Verdict {
		case Fail:
			failed = append(failed, fmt.Sprint(s.Number))
		case Warn:
			warned = append(warned, fmt.Sprint(s.Number))
		}
	}
	switch {
	case len(failed) > 0:
		if len(failed) == 1 {
			fmt.Fprintf(&b, "FAILED: step %s failed; the fix is under it.\n", failed[0])
		} else {
			fmt.Fprintf(&b, "FAILED: steps %s failed; the fix is under each.\n", strings.Join(failed, ", "))
		}
	case len(warned) > 0:
		fmt.Fprintf(&b, "PASSED with warnings (see step %s).\n", strings.Join(warned, ", "))
	default:
		b.WriteString("PASSED: every step passed.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
