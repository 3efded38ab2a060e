package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/mcpclientcfg"
)

// listConfigCmd is `mcp-cloudrun-proxy list-config`: the client entries, across clients and
// scopes, that run this proxy.
type listConfigCmd struct {
	Client  string `help:"Only this client: ${clients}, or all." enum:"${clients},all" default:"all"`
	Project string `help:"Project directory whose project-scope files to read (default: the current directory)." placeholder:"DIR"`
	Config  string `help:"Read this config file (needs a single --client)." placeholder:"PATH"`
}

// Validate checks the flags together; kong calls it after parsing.
func (c *listConfigCmd) Validate() error {
	if c.Config != "" && (c.Client == "all" || c.Client == "") {
		return fmt.Errorf("--config needs a single --client, to know the file's format")
	}
	return nil
}

// A listedEntry is one proxy entry found in a client config.
type listedEntry struct {
	loc     mcpclientcfg.Location
	project string
	entry   mcpclientcfg.ServerEntry
}

// Run prints a table of the entries; unreadable files are reported on stderr.
func (c *listConfigCmd) Run(ctx context.Context, s *streams) error {
	sys, err := systemFor(c.Project)
	if err != nil {
		return err
	}
	if sys.Home == "" && c.Config == "" {
		return &exitError{Code: 1, Err: errors.New("the home directory is unknown (HOME is not set), so the user config files cannot be found; set HOME, or pass --client CLIENT --config FILE")}
	}
	self, _ := mcpclientcfg.ExecutablePath()
	own := proxyOwnership(self)
	var found []listedEntry
	problems := 0
	for _, loc := range c.locations(sys) {
		entries, err := mcpclientcfg.ReadEntries(loc)
		if err != nil {
			fmt.Fprintf(s.Stderr, "warning: %v\n", err)
			problems++
			continue
		}
		project := ""
		if loc.Scope == mcpclientcfg.ScopeLocal || loc.Scope == mcpclientcfg.ScopeProject {
			project = sys.ProjectDir
			if loc.Scope == mcpclientcfg.ScopeLocal {
				project = loc.KeyPath[1]
			}
		}
		for _, e := range entries {
			if own.Owns(e) {
				found = append(found, listedEntry{loc: loc, project: project, entry: e})
			}
		}
	}
	if len(found) == 0 {
		fmt.Fprintln(s.Stdout, "No MCP client entries run mcp-cloudrun-proxy. Add one with: mcp-cloudrun-proxy install-config --client CLIENT --url URL")
		return nil
	}
	tw := tabwriter.NewWriter(s.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT\tSCOPE\tNAME\tURL\tSTATUS\tCONFIG")
	for _, f := range found {
		scope := string(f.loc.Scope)
		if f.loc.Scope == mcpclientcfg.ScopeLocal {
			scope += " " + f.project
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.loc.Client, scope, f.entry.Name, entryURL(f.entry.Args), entryStatus(f.entry, self), f.loc.Path)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if problems > 0 {
		return &exitError{Code: 1, Err: fmt.Errorf("%d config file(s) could not be read", problems)}
	}
	return nil
}

// locations are every config location of the chosen clients: user and project scopes,
// and for Claude Code each project in ~/.claude.json that has servers of its own.
func (c *listConfigCmd) locations(sys mcpclientcfg.System) []mcpclientcfg.Location {
	clients := mcpclientcfg.Clients()
	if c.Client != "all" && c.Client != "" {
		clients = []mcpclientcfg.Client{mcpclientcfg.Client(c.Client)}
	}
	var locs []mcpclientcfg.Location
	// In the home directory, a project-scope file can be the user-scope one (Cursor's
	// ~/.cursor/mcp.json): list each file (and place in it) once, under the first scope.
	seen := map[string]bool{}
	add := func(loc mcpclientcfg.Location) {
		p := filepath.Clean(loc.Path)
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		key := strings.Join(append([]string{p}, loc.KeyPath...), "\x00")
		if !seen[key] {
			seen[key] = true
			locs = append(locs, loc)
		}
	}
	for _, cl := range clients {
		for _, sc := range mcpclientcfg.Scopes(cl) {
			if sc == mcpclientcfg.ScopeLocal {
				continue
			}
			loc, err := mcpclientcfg.Locate(sys, cl, sc)
			if err != nil {
				continue
			}
			if c.Config != "" {
				if sc != mcpclientcfg.ScopeUser {
					continue
				}
				if p, err := filepath.Abs(c.Config); err == nil {
					loc = loc.WithPath(p)
				}
			}
			add(loc)
			if cl == mcpclientcfg.ClaudeCode && sc == mcpclientcfg.ScopeUser {
				projects, _ := mcpclientcfg.LocalProjects(loc)
				for _, p := range projects {
					local := loc
					local.Scope = mcpclientcfg.ScopeLocal
					local.KeyPath = []string{"projects", p, "mcpServers"}
					add(local)
				}
			}
		}
	}
	return locs
}

// proxyOwnership recognises the entries that run mcp-cloudrun-proxy: the running binary
// self, or any binary of that name. list-config lists exactly these, and install-config
// replaces or removes only these (unless --force).
func proxyOwnership(self string) mcpclientcfg.Ownership {
	return mcpclientcfg.Ownership{Program: "mcp-cloudrun-proxy", Self: self}
}

// entryURL is the --url argument of a run command line.
func entryURL(args []string) string {
	for i, a := range args {
		if a == "--url" && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, "--url="); ok {
			return v
		}
	}
	return "(MCP_CLOUDRUN_PROXY_URL)"
}

// entryStatus says whether the entry's command can be found, as a client finds it (a bare
// name on PATH), and whether it is this binary.
func entryStatus(e mcpclientcfg.ServerEntry, self string) string {
	cmd := e.Command
	if !strings.ContainsAny(cmd, `/\`) {
		p, err := exec.LookPath(cmd)
		if err != nil {
			return cmd + " not on PATH"
		}
		if base := strings.TrimSuffix(filepath.Base(p), ".exe"); base != "mcp-cloudrun-proxy" {
			return "ok (" + base + ")" // npx, uvx, pipx: fetched when the client starts it
		}
		cmd = p
	}
	st, err := os.Stat(cmd)
	if err != nil {
		return "binary not found"
	}
	// The same file by any path: a Homebrew or Nix link and the file it leads to.
	if selfSt, err := os.Stat(self); self != "" && (err != nil || !os.SameFile(st, selfSt)) {
		return "other binary"
	}
	return "ok"
}
