package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/mcpclientcfg"
)

// installConfigCmd is `mcp-cloudrun-proxy install-config`: it writes (or with --remove
// deletes, with --list shows) the entry that makes an MCP client start `run` with the
// given connection flags.
type installConfigCmd struct {
	Client  string   `help:"MCP client: ${clients}, or all (every client whose config location exists)." enum:"${clients},all," default:"" placeholder:"CLIENT"`
	Scope   string   `help:"user (default), project (a file in the project, to commit) or local (Claude Code: this project, in ~/.claude.json)." enum:"user,project,local" default:"user"`
	Project string   `name:"project-dir" help:"Project directory for --scope project and local (default: the current directory)." placeholder:"DIR"`
	Name    string   `help:"Server name in the client (default: the Cloud Run service name in --url)."`
	Config  string   `help:"Edit this config file instead of the client's usual one." placeholder:"PATH"`
	DryRun  bool     `help:"Print the change as a unified diff and write nothing."`
	Remove  bool     `help:"Remove the entry (--name, or the name derived from --url) instead of writing it."`
	Force   bool     `help:"Replace (or with --remove, delete) an entry of that name even if it does not run mcp-cloudrun-proxy; without it such an entry is left alone."`
	List    bool     `help:"List the entries that run mcp-cloudrun-proxy, like list-config."`
	Env     []string `help:"Environment variable for the proxy, KEY=VALUE (repeatable). Adds to or overrides the existing entry's env; variables not named are kept. Stored in plain text in the client config." placeholder:"KEY=VALUE" sep:"none"`

	// The run flags, as run and debug have them. --url is not required by kong (--remove
	// and --list need none); Validate requires it for an install.
	connectionFlags
}

// Help is shown under the flag list of install-config --help.
func (c *installConfigCmd) Help() string {
	return `Examples:
  mcp-cloudrun-proxy install-config --client claude-desktop --url https://mysvc-abc123-uc.a.run.app/mcp
  mcp-cloudrun-proxy install-config --client claude-code --scope local --url URL --token-source gcloud --dry-run
  mcp-cloudrun-proxy install-config --client all --url URL
  mcp-cloudrun-proxy install-config --client cursor --remove --name mysvc

The entry runs this binary by absolute path (or, started from npx's or uvx's cache, the
pinned npx/uvx command) with "run" and the connection flags given here (flags left at their
default are not written), and an env with what the credentials need from this shell
(GOOGLE_APPLICATION_CREDENTIALS, CLOUDSDK_CONFIG, CLOUDSDK_ACTIVE_CONFIG_NAME, and a PATH
leading to gcloud), since clients pass on little of the environment; --env overrides.
Edits change only that entry, are atomic, and keep the file mode (new project files 0644).
Each change first saves the file's previous content under the user's state directory
(~/.local/state/mcp-cloudrun-proxy/backups on Linux); the newest 5 per file are kept. If the
client rewrites the file meanwhile, nothing is written. An entry of the same name that does
not run mcp-cloudrun-proxy is left alone unless --force. --env adds or overrides variables
of an existing entry; variables it does not name are kept.`
}

// Validate checks the flags together; kong calls it after parsing.
func (c *installConfigCmd) Validate() error {
	if c.List {
		return nil
	}
	if c.Client == "" {
		return errors.New("--client is required: one of " + strings.ReplaceAll(clientNames(), ",", ", ") + ", or all")
	}
	if c.Client == "all" && c.Config != "" {
		return errors.New("--config names one file; use it with a single --client, not all")
	}
	if c.Client == "all" && c.Scope != "user" {
		return errors.New("--client all installs in each client's user config; pick one client for --scope " + c.Scope)
	}
	if c.Name != "" {
		if err := mcpclientcfg.ValidateName(c.Name); err != nil {
			return err
		}
	}
	if c.Remove {
		if c.Name == "" && c.URL == "" && c.Service == "" {
			return errors.New("--remove needs --name (or --url or --service to derive the name from)")
		}
		return nil
	}
	if c.URL == "" && c.Service == "" {
		return errors.New("--url is required to install an entry (set MCP_CLOUDRUN_PROXY_URL or pass --url https://SERVICE-HASH-REGION.a.run.app/mcp), or --service NAME to look the URL up")
	}
	if err := c.connectionFlags.Validate(); err != nil {
		return err
	}
	if _, err := parseEnvFlags(c.Env); err != nil {
		return err
	}
	return nil
}

// Run installs, removes or lists.
func (c *installConfigCmd) Run(ctx context.Context, s *streams, k *kong.Context) error {
	if c.List {
		l := listConfigCmd{Client: c.Client, Project: c.Project, Config: c.Config}
		if l.Client == "" {
			l.Client = "all"
		}
		return l.Run(ctx, s)
	}
	sys, err := systemFor(c.Project)
	if err != nil {
		return err
	}
	name := c.Name
	if svc, err := c.resolveInstall(ctx, s, c.Remove); err != nil {
		return &exitError{Code: 1, Err: err}
	} else if name == "" && svc != "" {
		name = svc
	}
	if name == "" {
		if name, err = mcpclientcfg.DefaultName(c.URL); err != nil {
			return err
		}
	}
	locs, err := c.locations(sys)
	if err != nil {
		return err
	}
	self, _ := mcpclientcfg.ExecutablePath()
	own := proxyOwnership(self)
	own.Force = c.Force
	var entry mcpclientcfg.ServerEntry
	if !c.Remove {
		if entry, err = c.entry(s, k, name); err != nil {
			return err
		}
	}
	w := mcpclientcfg.Writer{StateDir: sys.StateDir("mcp-cloudrun-proxy")}
	failed := 0
	for _, loc := range locs {
		if err := c.apply(s, w, loc, name, entry, own); err != nil {
			fmt.Fprintf(s.Stderr, "mcp-cloudrun-proxy: %s (%s): %v\n", loc.Client.DisplayName(), loc.Scope, err)
			failed++
		}
	}
	if failed > 0 {
		return &exitError{Code: 1, Err: fmt.Errorf("%d of %d config files not changed", failed, len(locs))}
	}
	return nil
}

// entry is the server entry to install: how to start this binary, `run` with the
// connection flags given, and the environment the credentials need.
func (c *installConfigCmd) entry(s *streams, k *kong.Context, name string) (mcpclientcfg.ServerEntry, error) {
	cmd, err := launchCommand(s.Stderr)
	if err != nil {
		return mcpclientcfg.ServerEntry{}, err
	}
	env := recordedEnv(os.Getenv, c.TokenSource)
	given, _ := parseEnvFlags(c.Env) // checked in Validate
	var keys []string
	for key := range env {
		if _, ok := given[key]; !ok {
			keys = append(keys, key)
		}
	}
	if len(keys) > 0 {
		slices.Sort(keys)
		fmt.Fprintf(s.Stdout, "Recorded from this shell in the entry's env, since clients pass on little of the environment: %s (override with --env KEY=VALUE).\n", strings.Join(keys, ", "))
	}
	maps.Copy(env, given)
	if len(env) == 0 {
		env = nil
	}
	args := append(cmd[1:], "run")
	args = append(args, runArgs(k)...)
	return mcpclientcfg.ServerEntry{Name: name, Command: cmd[0], Args: args, Env: env}, nil
}

// launchCommand is how a client starts this binary: `npx -y PKG@VERSION` or `uvx
// PKG@VERSION` when it runs from that runner's cache, otherwise its path, with a warning
// when that path will not last.
func launchCommand(stderr io.Writer) ([]string, error) {
	exe, err := mcpclientcfg.ExecutablePath()
	if err != nil {
		return nil, fmt.Errorf("%w; install-config must run from the installed binary", err)
	}
	if l, runner, ok := mcpclientcfg.PackageRunnerLaunch(exe, "mcp-cloudrun-proxy", version); ok {
		return append([]string{l.Command}, l.Args...), nil
	} else if runner != "" {
		fmt.Fprintf(stderr, "warning: %s is in %s's cache, but this build (%s) is not a release %s can fetch; the entry runs the cached path, which a cache cleanup removes\n", exe, runner, version, runner)
	}
	switch slash := filepath.ToSlash(exe); {
	case strings.Contains(slash, "/nix/store/"):
		fmt.Fprintf(stderr, "warning: %s is in the Nix store and will change on upgrade; install the proxy into a Nix profile and run install-config from there\n", exe)
	case strings.Contains(slash, "/Cellar/"):
		fmt.Fprintf(stderr, "warning: %s is in a versioned Homebrew Cellar directory, which an upgrade removes; run install-config as $(brew --prefix)/bin/mcp-cloudrun-proxy\n", exe)
	default:
		if why := mcpclientcfg.VolatileReason(exe); why != "" {
			fmt.Fprintf(stderr, "warning: %s %s, so the entry breaks when it is rebuilt or removed; run `make install` (PREFIX=~/.local needs no root) and install-config from the installed binary\n", exe, why)
		}
	}
	return []string{exe}, nil
}

// clientNames lists every --client value but all, comma-separated.
func clientNames() string {
	var names []string
	for _, c := range mcpclientcfg.Clients() {
		names = append(names, string(c))
	}
	return strings.Join(names, ",")
}

// locations are the config files to edit.
func (c *installConfigCmd) locations(sys mcpclientcfg.System) ([]mcpclientcfg.Location, error) {
	if c.Client != "all" {
		loc, err := mcpclientcfg.Locate(sys, mcpclientcfg.Client(c.Client), mcpclientcfg.Scope(c.Scope))
		if err != nil {
			return nil, err
		}
		if c.Config != "" {
			p, err := filepath.Abs(c.Config)
			if err != nil {
				return nil, fmt.Errorf("--config: %w", err)
			}
			loc = loc.WithPath(p)
		}
		return []mcpclientcfg.Location{loc}, nil
	}
	var locs []mcpclientcfg.Location
	for _, cl := range mcpclientcfg.Clients() {
		if loc, ok := mcpclientcfg.Installed(sys, cl); ok {
			locs = append(locs, loc)
		}
	}
	if len(locs) == 0 {
		return nil, fmt.Errorf("found no MCP client config (looked for %s); pass --client to create one", strings.ReplaceAll(clientNames(), ",", ", "))
	}
	return locs, nil
}

func (c *installConfigCmd) apply(s *streams, w mcpclientcfg.Writer, loc mcpclientcfg.Location, name string, entry mcpclientcfg.ServerEntry, own mcpclientcfg.Ownership) error {
	var change *mcpclientcfg.Change
	var err error
	if c.Remove {
		change, err = mcpclientcfg.PlanRemove(loc, name, own)
	} else {
		change, err = mcpclientcfg.PlanInstall(loc, entry, own)
	}
	if err != nil {
		return err
	}
	where := fmt.Sprintf("%s (%s scope): %s", loc.Client.DisplayName(), loc.Scope, loc.Path)
	if change.UpToDate() {
		if c.Remove {
			fmt.Fprintf(s.Stdout, "No entry %q in %s; nothing to remove.\n", name, where)
		} else {
			fmt.Fprintf(s.Stdout, "%q in %s is already up to date.\n", name, where)
		}
		return nil
	}
	if c.DryRun {
		io.WriteString(s.Stdout, change.Diff())
		fmt.Fprintf(s.Stdout, "Dry run: %s not changed.\n", loc.Path)
		return nil
	}
	res, err := w.Apply(change)
	if err != nil {
		return err
	}
	verb := "Added"
	switch {
	case c.Remove:
		verb = "Removed"
	case change.Found:
		verb = "Updated"
	}
	prep := map[bool]string{true: "from", false: "in"}[c.Remove]
	fmt.Fprintf(s.Stdout, "%s %q %s %s\n", verb, name, prep, where)
	if !c.Remove {
		fmt.Fprintf(s.Stdout, "  runs: %s\n", shellJoin(entry.CommandLine()))
	}
	if !c.Remove && loc.Scope == mcpclientcfg.ScopeProject && (filepath.IsAbs(entry.Command) || len(entry.Env) > 0) {
		what := "runs " + entry.Command
		if len(entry.Env) > 0 {
			what += " with " + strings.Join(slices.Sorted(maps.Keys(entry.Env)), ", ") + " from this shell"
		}
		fmt.Fprintf(s.Stderr, "note: %s is meant to be shared with the project, but the entry %s: paths on this machine\n", loc.Path, what)
	}
	if res.Backup != "" {
		fmt.Fprintf(s.Stdout, "  previous content saved in %s (the newest 5 backups per file are kept)\n", res.Backup)
	}
	if c.Remove {
		fmt.Fprintf(s.Stdout, "Next: restart %s to apply the change.\n", loc.Client.DisplayName())
	} else {
		fmt.Fprintln(s.Stdout, loc.Client.NextStep(name, loc.Scope))
	}
	return nil
}

// systemFor is this machine, with project as the project directory when given.
func systemFor(project string) (mcpclientcfg.System, error) {
	sys := mcpclientcfg.CurrentSystem()
	if project != "" {
		p, err := filepath.Abs(project)
		if err != nil {
			return sys, fmt.Errorf("--project: %w", err)
		}
		if st, err := os.Stat(p); err != nil || !st.IsDir() {
			return sys, fmt.Errorf("--project %s: not a directory", project)
		}
		sys.ProjectDir = p
	}
	return sys, nil
}

// parseEnvFlags turns repeated --env KEY=VALUE into a map.
func parseEnvFlags(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	env := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("--env %q: use KEY=VALUE", kv)
		}
		if err := mcpclientcfg.ValidateEnvKey(k); err != nil {
			return nil, fmt.Errorf("--env: %w", err)
		}
		env[k] = v
	}
	return env, nil
}

// runArgs are the `run` flags that reproduce the connection flags given to install-config:
// every flag that `run` also has, by kong's own name, whose value is not its default. A new
// run flag is thus carried into client entries without a change here.
func runArgs(k *kong.Context) []string {
	runFlags := map[string]bool{}
	for _, n := range k.Model.Children {
		if n.Name == "run" {
			for _, f := range n.Flags {
				runFlags[f.Name] = true
			}
		}
	}
	var args []string
	for _, f := range k.Selected().Flags {
		if !runFlags[f.Name] || !f.Target.IsValid() {
			continue
		}
		val, ok := flagValue(f)
		if !ok {
			continue
		}
		if f.IsBool() {
			args = append(args, "--"+f.Name)
			continue
		}
		args = append(args, "--"+f.Name, val)
	}
	return args
}

// flagValue formats f's value as given on a command line; ok is false when it is empty
// or the default.
func flagValue(f *kong.Flag) (string, bool) {
	v := f.Target
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		if d, err := strconv.ParseFloat(f.Default, 64); (err == nil && d == v.Float()) || (f.Default == "" && v.Float() == 0) {
			return "", false
		}
		return strconv.FormatFloat(v.Float(), 'f', -1, 64), true
	case reflect.Bool:
		return "", v.Bool() && f.Default != "true"
	}
	val := fmt.Sprint(v.Interface())
	return val, val != "" && val != f.Default && !(v.Kind() != reflect.String && v.IsZero() && f.Default == "")
}

// shellJoin quotes args for display as a POSIX shell command line.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./:=@,+%") == "" {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
