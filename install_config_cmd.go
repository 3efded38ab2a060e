package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"unicode"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/mcpclientcfg"
)

// installConfigCmd is `mcp-cloudrun-proxy install-config`: it writes (or with --remove
// deletes, with --list shows) the entry that makes an MCP client start `run` with the
// given connection flags.
type installConfigCmd struct {
	Client  string   `help:"MCP client: claude-desktop, claude-code, cursor, vscode, windsurf, gemini, codex, or all (every client whose config location exists)." enum:"claude-desktop,claude-code,cursor,vscode,windsurf,gemini,codex,all," default:"" placeholder:"CLIENT"`
	Scope   string   `help:"user (default), project (a file in the project, to commit) or local (Claude Code: this project, in ~/.claude.json)." enum:"user,project,local" default:"user"`
	Project string   `name:"project-dir" help:"Project directory for --scope project and local (default: the current directory)." placeholder:"DIR"`
	Name    string   `help:"Server name in the client (default: the Cloud Run service name in --url)."`
	Config  string   `help:"Edit this config file instead of the client's usual one." placeholder:"PATH"`
	DryRun  bool     `help:"Print the change as a unified diff and write nothing."`
	Remove  bool     `help:"Remove the entry (--name, or the name derived from --url) instead of writing it."`
	Force   bool     `help:"Replace (or with --remove, delete) an entry of that name even if it does not run mcp-cloudrun-proxy; without it such an entry is left alone."`
	List    bool     `help:"List the entries that run mcp-cloudrun-proxy, like list-config."`
	Env     []string `help:"Environment variable for the proxy, KEY=VALUE (repeatable). Adds to or overrides the existing entry's env; variables not named are kept. Stored in plain text in the client config." placeholder:"KEY=VALUE" sep:"none"`

	// --url is optional here so that --remove and --list need none; Validate requires it
	// for an install and checks the rest with connectionFlags.Validate.
	optionalConnectionFlags
}

// optionalConnectionFlags are connectionFlags with --url not required.
// TestOptionalConnectionFlagsMirrorConnectionFlags keeps the two in step.
type optionalConnectionFlags struct {
	URL                       string  `help:"Streamable HTTP MCP endpoint on Cloud Run, e.g. https://svc-xyz.a.run.app/mcp (or --service)." env:"MCP_CLOUDRUN_PROXY_URL"`
	Service                   string  `help:"Cloud Run service name, instead of --url: its URL is read from the Cloud Run Admin API (needs run.services.get)." env:"MCP_CLOUDRUN_PROXY_SERVICE" placeholder:"NAME"`
	Region                    string  `help:"Region of --service (default: CLOUDSDK_RUN_REGION, then gcloud's run/region)." placeholder:"REGION"`
	GCPProject                string  `name:"project" help:"Google Cloud project of --service (default: CLOUDSDK_CORE_PROJECT, GOOGLE_CLOUD_PROJECT, then gcloud's core/project)." placeholder:"PROJECT"`
	Path                      string  `help:"Path of the MCP endpoint on the service, appended to the URL --service resolves to (default /mcp)." placeholder:"PATH"`
	Audience                  string  `help:"ID token audience (default: scheme://host[:port] of --url)." env:"MCP_CLOUDRUN_PROXY_AUDIENCE"`
	TokenSource               string  `help:"Where ID tokens come from: auto, google-auth (Application Default Credentials) or gcloud (gcloud auth print-identity-token; ignores the audience)." env:"MCP_CLOUDRUN_PROXY_TOKEN_SOURCE" enum:"auto,google-auth,gcloud" default:"auto"`
	ImpersonateServiceAccount string  `help:"Mint ID tokens as this service account (needs roles/iam.serviceAccountTokenCreator on it)." env:"MCP_CLOUDRUN_PROXY_IMPERSONATE_SERVICE_ACCOUNT" placeholder:"EMAIL"`
	LogLevel                  string  `help:"Log level on stderr: debug, info or warn." env:"MCP_CLOUDRUN_PROXY_LOG_LEVEL" enum:"debug,info,warn" default:"info"`
	RefreshMargin             float64 `help:"Seconds before token expiry to refresh it." env:"MCP_CLOUDRUN_PROXY_REFRESH_MARGIN" default:"60"`
}

// connection copies the fields into a connectionFlags, by name.
func (o optionalConnectionFlags) connection() connectionFlags {
	var cf connectionFlags
	src, dst := reflect.ValueOf(o), reflect.ValueOf(&cf).Elem()
	for i := 0; i < dst.NumField(); i++ {
		if f := src.FieldByName(dst.Type().Field(i).Name); f.IsValid() {
			dst.Field(i).Set(f)
		}
	}
	return cf
}

// Help is shown under the flag list of install-config --help.
func (c *installConfigCmd) Help() string {
	return `Examples:
  mcp-cloudrun-proxy install-config --client claude-desktop --url https://mysvc-abc123-uc.a.run.app/mcp
  mcp-cloudrun-proxy install-config --client claude-code --scope local --url URL --token-source gcloud --dry-run
  mcp-cloudrun-proxy install-config --client all --url URL
  mcp-cloudrun-proxy install-config --client cursor --remove --name mysvc

The entry runs this binary by absolute path with "run" and the connection flags given here
(flags left at their default are not written). Edits change only that entry, are atomic,
and keep the file mode. Each change first saves the file's previous content in a new
FILE.bak.YYYYMMDDTHHMMSSZ (UTC time); backups are never overwritten or deleted, so the
original is kept however many changes follow. An entry of the same name that does not run
mcp-cloudrun-proxy is left alone unless --force. --env adds or overrides variables of an
existing entry; variables it does not name are kept.`
}

// Validate checks the flags together; kong calls it after parsing.
func (c *installConfigCmd) Validate() error {
	if c.List {
		return nil
	}
	if c.Client == "" {
		return errors.New("--client is required: claude-desktop, claude-code, cursor, vscode, windsurf, gemini, codex or all")
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
	cf := c.connection()
	if err := cf.Validate(); err != nil {
		return err
	}
	if _, err := parseEnvFlags(c.Env); err != nil {
		return err
	}
	return nil
}

// Run installs, removes or lists.
func (c *installConfigCmd) Run(ctx context.Context, s *streams) error {
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
	cf := c.connection()
	name := c.Name
	if svc, err := cf.resolveInstall(ctx, s, c.Remove); err != nil {
		return &exitError{Code: 1, Err: err}
	} else if name == "" && svc != "" {
		name = svc
	}
	if name == "" {
		if name, err = mcpclientcfg.DefaultName(cf.URL); err != nil {
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
		exe, err := mcpclientcfg.ExecutablePath()
		if err != nil {
			return fmt.Errorf("%w; install-config must run from the installed binary", err)
		}
		if strings.Contains(filepath.ToSlash(exe), "/nix/store/") {
			fmt.Fprintf(s.Stderr, "warning: %s is in the Nix store and will change on upgrade; install the proxy into a Nix profile and run install-config from there\n", exe)
		}
		if strings.Contains(filepath.ToSlash(exe), "/Cellar/") {
			fmt.Fprintf(s.Stderr, "warning: %s is in a versioned Homebrew Cellar directory, which an upgrade removes; run install-config as $(brew --prefix)/bin/mcp-cloudrun-proxy\n", exe)
		}
		env, _ := parseEnvFlags(c.Env) // checked in Validate
		entry = mcpclientcfg.ServerEntry{Name: name, Command: exe, Args: append([]string{"run"}, runArgs(cf)...), Env: env}
	}
	failed := 0
	for _, loc := range locs {
		if err := c.apply(s, loc, name, entry, own); err != nil {
			fmt.Fprintf(s.Stderr, "mcp-cloudrun-proxy: %s (%s): %v\n", loc.Client.DisplayName(), loc.Scope, err)
			failed++
		}
	}
	if failed > 0 {
		return &exitError{Code: 1, Err: fmt.Errorf("%d of %d config files not changed", failed, len(locs))}
	}
	return nil
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
		return nil, errors.New("found no MCP client config (looked for Claude Desktop, Claude Code, Cursor, VS Code, Windsurf, Gemini CLI and Codex); pass --client to create one")
	}
	return locs, nil
}

func (c *installConfigCmd) apply(s *streams, loc mcpclientcfg.Location, name string, entry mcpclientcfg.ServerEntry, own mcpclientcfg.Ownership) error {
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
	res, err := mcpclientcfg.Writer{}.Apply(change)
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
	if !c.Remove && loc.Scope == mcpclientcfg.ScopeProject {
		fmt.Fprintf(s.Stderr, "note: %s is meant to be shared with the project, but the entry runs %s, a path on this machine\n", loc.Path, entry.Command)
	}
	if res.Backup != "" {
		fmt.Fprintf(s.Stdout, "  previous content saved in %s (a new backup for each change; older ones are kept)\n", res.Backup)
	}
	if c.Remove {
		fmt.Fprintf(s.Stdout, "Next: restart %s to apply the change.\n", loc.Client.DisplayName())
	} else {
		fmt.Fprintln(s.Stdout, loc.Client.NextStep(name))
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

// runArgs are the `run` flags that reproduce cf: every flag whose value is not its default,
// in declaration order. It reads connectionFlags' kong tags, so a new run flag is carried
// into client entries without a change here.
func runArgs(cf connectionFlags) []string {
	var args []string
	v, t := reflect.ValueOf(cf), reflect.TypeOf(cf)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("name")
		if name == "" {
			name = flagName(f.Name)
		}
		def := f.Tag.Get("default")
		fv := v.Field(i)
		var val string
		switch fv.Kind() {
		case reflect.String:
			val = fv.String()
		case reflect.Float32, reflect.Float64:
			val = strconv.FormatFloat(fv.Float(), 'f', -1, 64)
			if d, err := strconv.ParseFloat(def, 64); err == nil && d == fv.Float() {
				continue
			}
			if def == "" && fv.Float() == 0 {
				continue
			}
		case reflect.Int, reflect.Int64, reflect.Int32:
			val = strconv.FormatInt(fv.Int(), 10)
			if def == "" && fv.Int() == 0 {
				continue
			}
		case reflect.Bool:
			if fv.Bool() && def != "true" {
				args = append(args, "--"+name)
			}
			continue
		default:
			val = fmt.Sprint(fv.Interface())
		}
		if val == "" || val == def {
			continue
		}
		args = append(args, "--"+name, val)
	}
	return args
}

// flagName is kong's default flag name for a field: "ImpersonateServiceAccount" gives
// "impersonate-service-account", "URL" gives "url".
func flagName(field string) string {
	rs := []rune(field)
	var b strings.Builder
	for i, r := range rs {
		if unicode.IsUpper(r) {
			prevLower := i > 0 && !unicode.IsUpper(rs[i-1])
			nextLower := i > 0 && i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1])
			if prevLower || nextLower {
				b.WriteByte('-')
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
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
