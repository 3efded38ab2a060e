package mcpclientcfg

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
)

// A Change is the planned new content of one config file. Nothing is written until
// [Writer.Apply].
type Change struct {
	Location Location
	// Name is the server entry added, updated or removed.
	Name string
	// Old is the file's content; nil when it does not exist.
	Old []byte
	// New is the content after the change.
	New []byte
	// Existed says the file existed.
	Existed bool
	// Found says the entry was in the file before the change.
	Found bool
	// Mode is the permission bits the file has, or gets when created.
	Mode fs.FileMode
	// target is Location.Path with symlinks resolved: we replace the file a symlink points
	// to, not the symlink.
	target string
}

// UpToDate reports whether the change would write nothing.
func (c *Change) UpToDate() bool {
	if !c.Existed {
		return c.New == nil
	}
	return bytes.Equal(c.Old, c.New)
}

// Diff is a unified diff of the change; "" when it is up to date.
func (c *Change) Diff() string {
	if c.UpToDate() {
		return ""
	}
	a := c.Location.Path
	if !c.Existed {
		a = "/dev/null"
	}
	return unifiedDiff(a, c.Location.Path, c.Old, c.New)
}

// newFileMode is the mode of a user config file we create: entries may carry secrets in
// env. A project file is meant to be committed and shared, so it gets the usual 0644, as
// Claude Code's own `claude mcp add --scope project` gives .mcp.json.
const (
	newFileMode        fs.FileMode = 0o600
	newProjectFileMode fs.FileMode = 0o644
)

func readLocation(loc Location) (*Change, error) {
	if loc.Path == "" {
		return nil, errors.New("no config file path")
	}
	c := &Change{Location: loc, target: loc.Path, Mode: newFileMode}
	if loc.Scope == ScopeProject {
		c.Mode = newProjectFileMode
	}
	if t, err := filepath.EvalSymlinks(loc.Path); err == nil {
		c.target = t
	} else if lst, lerr := os.Lstat(loc.Path); lerr == nil && lst.Mode()&fs.ModeSymlink != 0 {
		// A dangling symlink (say, dotfiles not checked out yet): writing would replace the
		// link with a file, or create a file somewhere the user did not expect.
		dest, _ := os.Readlink(loc.Path)
		return nil, fmt.Errorf("%s is a symlink to %s, which cannot be read (%w); create that file (or check out your dotfiles), remove the symlink, or pass --config, then run again", loc.Path, dest, err)
	}
	st, err := os.Stat(c.target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return c, nil
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", loc.Path, err)
	case st.IsDir():
		return nil, fmt.Errorf("%s is a directory, not a config file", loc.Path)
	}
	data, err := os.ReadFile(c.target)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", loc.Path, err)
	}
	c.Old, c.Existed, c.Mode = data, true, st.Mode().Perm()
	return c, nil
}

// PlanInstall reads loc's file and computes the change that adds entry e, or updates the
// entry of that name: its command, args and env (and "type" where the client wants one) are
// set, its other keys and everything else in the file are kept. An existing entry of that
// name that own does not recognise as ours is a [*ForeignEntryError], unless own.Force.
// e.Env adds to or overrides the env of an existing entry of ours: variables the user added
// to it by hand are kept.
func PlanInstall(loc Location, e ServerEntry, own Ownership) (*Change, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	c, err := readLocation(loc)
	if err != nil {
		return nil, err
	}
	c.Name = e.Name
	if c.Old != nil {
		var old ServerEntry
		if old, c.Found, err = lookup(loc, c.Old, e.Name); err != nil {
			return nil, err
		}
		if c.Found && !own.Owns(old) && !own.Force {
			return nil, &ForeignEntryError{Path: loc.Path, Name: e.Name, Command: old.Command, Program: own.Program}
		}
		if c.Found && own.Owns(old) && len(old.Env) > 0 {
			env := maps.Clone(old.Env)
			maps.Copy(env, e.Env)
			e.Env = env
		}
	}
	c.New, err = installBytes(loc, c.Old, e)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// PlanRemove reads loc's file and computes the change that removes the entry called name.
// A missing file or entry gives an up-to-date change with Found false. An entry that own
// does not recognise as ours is a [*ForeignEntryError], unless own.Force.
func PlanRemove(loc Location, name string, own Ownership) (*Change, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	c, err := readLocation(loc)
	if err != nil {
		return nil, err
	}
	c.Name = name
	if !c.Existed {
		return c, nil
	}
	old, found, err := lookup(loc, c.Old, name)
	if err != nil {
		return nil, err
	}
	if found && !own.Owns(old) && !own.Force {
		return nil, &ForeignEntryError{Path: loc.Path, Name: name, Command: old.Command, Program: own.Program, Remove: true}
	}
	c.New, c.Found, err = removeBytes(loc, c.Old, name)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func installBytes(loc Location, src []byte, e ServerEntry) ([]byte, error) {
	if loc.Format == FormatTOML {
		return installTOML(loc, src, e)
	}
	return installJSON(loc, src, e)
}

func removeBytes(loc Location, src []byte, name string) ([]byte, bool, error) {
	if loc.Format == FormatTOML {
		return removeTOML(loc, src, name)
	}
	return removeJSON(loc, src, name)
}

func entriesBytes(loc Location, src []byte, all bool) ([]ServerEntry, error) {
	if loc.Format == FormatTOML {
		return entriesTOML(loc, src, all)
	}
	d, err := parseJSONDoc(loc, src)
	if err != nil {
		return nil, err
	}
	es, err := d.entries(d.withProjectKey(loc), all)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", loc.Path, err)
	}
	return es, nil
}

// lookup finds the member called name, stdio entry or not (then without a command).
func lookup(loc Location, src []byte, name string) (ServerEntry, bool, error) {
	es, err := entriesBytes(loc, src, true)
	if err != nil {
		return ServerEntry{}, false, err
	}
	for _, e := range es {
		if e.Name == name {
			return e, true, nil
		}
	}
	return ServerEntry{}, false, nil
}

// ReadEntries returns the stdio server entries at loc, in file order (by name for TOML). A
// missing file has none.
func ReadEntries(loc Location) ([]ServerEntry, error) {
	data, err := os.ReadFile(loc.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", loc.Path, err)
	}
	return entriesBytes(loc, data, false)
}

// LocalProjects lists the projects in Claude Code's ~/.claude.json (loc is its
// [ScopeUser] or [ScopeLocal] location) that have MCP server entries of their own.
func LocalProjects(loc Location) ([]string, error) {
	data, err := os.ReadFile(loc.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", loc.Path, err)
	}
	d, err := parseJSONDoc(loc, data)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range d.keys([]string{"projects"}) {
		if len(d.keys([]string{"projects", p, "mcpServers"})) > 0 {
			out = append(out, p)
		}
	}
	return out, nil
}
