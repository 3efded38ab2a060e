package mcpclientcfg

import (
	"fmt"
	"path"
	"strings"
)

// Ownership says which existing entries are ours: [PlanInstall] replaces, and [PlanRemove]
// removes, an entry of the given name only if it is ours or Force is set, so that a server
// the user added by hand under the same name is never lost by accident.
type Ownership struct {
	// Program is the base name of the binary our entries run, e.g. "mcp-cloudrun-proxy": an
	// entry whose command has this base name (with or without ".exe", in any directory) is
	// ours. "" matches no base name.
	Program string
	// Self is the absolute path of the running binary: an entry that runs it is ours.
	Self string
	// Force lets an entry that is not ours be replaced or removed.
	Force bool
}

// Owns reports whether e runs our program: Self, a binary called Program, or the package
// called Program through npx, uvx or pipx (`npx -y mcp-cloudrun-proxy@1.2.3 run ...`).
func (o Ownership) Owns(e ServerEntry) bool {
	if e.Command == "" {
		return false
	}
	if o.Program != "" && runnerPackage(e) == o.Program {
		return true
	}
	if o.Self != "" && e.Command == o.Self {
		return true
	}
	if o.Program == "" {
		return false
	}
	base := path.Base(strings.ReplaceAll(e.Command, `\`, "/"))
	return base == o.Program || strings.EqualFold(base, o.Program+".exe")
}

// A ForeignEntryError says the file already has an entry of that name which does not run
// our program; nothing was changed.
type ForeignEntryError struct {
	Path string
	Name string
	// Command is the entry's command; "" for an entry without one (e.g. an HTTP server).
	Command string
	// Program is Ownership.Program.
	Program string
	// Remove says the entry was to be removed rather than replaced.
	Remove bool
}

func (e *ForeignEntryError) Error() string {
	what := fmt.Sprintf("runs %q", e.Command)
	if e.Command == "" {
		what = "has no command (it is an HTTP or other non-stdio server)"
	}
	prog := e.Program
	if prog == "" {
		prog = "this program"
	}
	if e.Remove {
		return fmt.Sprintf("%s: server %q %s, not %s; it was left in place (pass --force to remove it anyway)", e.Path, e.Name, what, prog)
	}
	return fmt.Sprintf("%s: a different server is already called %q: it %s, not %s; it was left unchanged (choose another name with --name, or pass --force to replace it)", e.Path, e.Name, what, prog)
}
