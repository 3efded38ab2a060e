package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/alecthomas/kong"
)

// completionCmd is `mcp-cloudrun-proxy completion SHELL`. The scripts are generated from the
// kong model at run time, so a new command or flag is completed without anyone editing them;
// they are plain shell (no hidden __complete callback into the binary), which keeps a
// dependency such as kong-completion/posener out and lets the shells' own tests read them.
type completionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"bash, zsh or fish."`
}

// Run writes the script for the chosen shell to stdout.
func (c *completionCmd) Run(kctx *kong.Context, s *streams) error {
	spec := completionSpecOf(kctx.Model)
	var script string
	switch c.Shell {
	case "bash":
		script = bashCompletion(spec)
	case "zsh":
		script = zshCompletion(spec)
	case "fish":
		script = fishCompletion(spec)
	}
	_, err := io.WriteString(s.Stdout, script)
	return err
}

// compFlag is one flag as the completion scripts need it.
type compFlag struct {
	Long   string   // without the dashes
	Short  rune     // 0 when none
	Help   string   // first sentence
	Value  bool     // takes a value
	Values []string // the allowed values, when an enum
	File   bool     // the value is a path
	Dir    bool     // the value is a directory
}

// compCmd is one command: its flags and the values of its first positional argument.
type compCmd struct {
	Name  string
	Help  string
	Flags []compFlag
	Args  []string
}

// compSpec is the program: its own flags and its commands.
type compSpec struct {
	Prog     string
	Flags    []compFlag
	Commands []compCmd
}

// completionSpecOf reads the kong model: visible commands, their flags (inherited ones
// included) and positional values (enums; help takes command names).
func completionSpecOf(app *kong.Application) compSpec {
	spec := compSpec{Prog: "mcp-cloudrun-proxy", Flags: compFlags(app.Node.Flags)}
	var names []string
	for _, n := range app.Node.Children {
		if n.Hidden || n.Type != kong.CommandNode {
			continue
		}
		names = append(names, n.Name)
	}
	for _, n := range app.Node.Children {
		if n.Hidden || n.Type != kong.CommandNode {
			continue
		}
		cmd := compCmd{Name: n.Name, Help: firstSentence(n.Help), Flags: compFlags(n.AllFlags(true)...)}
		if len(n.Positional) > 0 {
			cmd.Args = enumValues(n.Positional[0].Enum)
		}
		if n.Name == "help" {
			cmd.Args = names
		}
		spec.Commands = append(spec.Commands, cmd)
	}
	return spec
}

// compFlags flattens kong's flag groups into compFlags, skipping hidden flags.
func compFlags(groups ...[]*kong.Flag) []compFlag {
	var out []compFlag
	for _, g := range groups {
		for _, f := range g {
			if f.Hidden {
				continue
			}
			cf := compFlag{Long: f.Name, Short: f.Short, Help: firstSentence(f.Help), Value: !f.IsBool() && !f.IsCounter()}
			cf.Values = enumValues(f.Enum)
			cf.File = f.PlaceHolder == "PATH"
			cf.Dir = f.PlaceHolder == "DIR"
			if !slices.ContainsFunc(out, func(o compFlag) bool { return o.Long == cf.Long }) {
				out = append(out, cf)
			}
		}
	}
	return out
}

// enumValues splits a kong enum tag, dropping the empty value some enums allow.
func enumValues(enum string) []string {
	var out []string
	for _, v := range strings.Split(enum, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// firstSentence keeps completion descriptions to one line.
func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSuffix(strings.TrimSpace(s), ".")
}

// words is the space-separated word list a shell offers for a command: flags, then args.
func (c compCmd) words(withArgs bool) string {
	var w []string
	if withArgs {
		w = append(w, c.Args...)
	}
	for _, f := range c.Flags {
		w = append(w, "--"+f.Long)
		if f.Short != 0 {
			w = append(w, "-"+string(f.Short))
		}
	}
	return strings.Join(w, " ")
}

// bashCompletion completes commands, flags, enum values and paths with compgen.
func bashCompletion(spec compSpec) string {
	var b strings.Builder
	top := compCmd{Flags: spec.Flags}
	for _, c := range spec.Commands {
		top.Args = append(top.Args, c.Name)
	}
	fmt.Fprintf(&b, `# bash completion for %[1]s; load it with
#   source <(%[1]s completion bash)
# or save it as ~/.local/share/bash-completion/completions/%[1]s
_mcp_cloudrun_proxy() {
  local cur="${COMP_WORDS[COMP_CWORD]}" prev="" cmd="" i
  if [[ $COMP_CWORD -gt 0 ]]; then prev="${COMP_WORDS[COMP_CWORD-1]}"; fi
  # --flag=value: bash splits at "=", so look one word further back.
  if [[ $cur == "=" ]]; then cur=""; elif [[ $prev == "=" && $COMP_CWORD -gt 1 ]]; then prev="${COMP_WORDS[COMP_CWORD-2]}"; fi
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${COMP_WORDS[i]}" in
      -*) ;;
      *) cmd="${COMP_WORDS[i]}"; break ;;
    esac
  done
  case "$cmd:$prev" in
`, spec.Prog)
	for _, c := range append([]compCmd{top}, spec.Commands...) {
		for _, f := range c.Flags {
			if !f.Value {
				continue
			}
			pattern := c.Name + ":--" + f.Long
			switch {
			case len(f.Values) > 0:
				fmt.Fprintf(&b, "    %s) COMPREPLY=($(compgen -W %q -- \"$cur\")); return ;;\n", pattern, strings.Join(f.Values, " "))
			case f.Dir:
				fmt.Fprintf(&b, "    %s) COMPREPLY=($(compgen -d -- \"$cur\")); return ;;\n", pattern)
			case f.File:
				fmt.Fprintf(&b, "    %s) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", pattern)
			default:
				fmt.Fprintf(&b, "    %s) COMPREPLY=(); return ;;\n", pattern)
			}
		}
	}
	b.WriteString("  esac\n  case \"$cmd\" in\n")
	fmt.Fprintf(&b, "    \"\") COMPREPLY=($(compgen -W %q -- \"$cur\")) ;;\n", top.words(true))
	for _, c := range spec.Commands {
		fmt.Fprintf(&b, "    %s) COMPREPLY=($(compgen -W %q -- \"$cur\")) ;;\n", c.Name, c.words(true))
	}
	fmt.Fprintf(&b, "  esac\n}\ncomplete -F _mcp_cloudrun_proxy %s\n", spec.Prog)
	return b.String()
}

// zshQuote escapes text for a single-quoted _arguments spec.
func zshQuote(s string) string {
	return strings.NewReplacer("'", `'\''`, "[", `\[`, "]", `\]`, ":", `\:`).Replace(s)
}

// zshFlagSpecs returns the _arguments specs of flags, one per line.
func zshFlagSpecs(flags []compFlag) []string {
	var out []string
	for _, f := range flags {
		action := ""
		if f.Value {
			switch {
			case len(f.Values) > 0:
				action = ":" + f.Long + ":(" + strings.Join(f.Values, " ") + ")"
			case f.Dir:
				action = ":" + f.Long + ":_files -/"
			case f.File:
				action = ":" + f.Long + ":_files"
			default:
				action = ":" + f.Long + ": "
			}
		}
		eq := ""
		if f.Value {
			eq = "="
		}
		desc := "[" + zshQuote(f.Help) + "]"
		if f.Short != 0 {
			out = append(out, fmt.Sprintf("'(-%c --%s)'{-%c,--%s%s}'%s%s'", f.Short, f.Long, f.Short, f.Long, eq, desc, action))
			continue
		}
		out = append(out, fmt.Sprintf("'--%s%s%s%s'", f.Long, eq, desc, action))
	}
	return out
}

// zshCompletion is a #compdef function using _arguments and _describe; it works both from
// $fpath and when sourced.
func zshCompletion(spec compSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, `#compdef %[1]s
# zsh completion for %[1]s; save it as _%[1]s in a directory of $fpath, or run
#   source <(%[1]s completion zsh)
# after compinit.
_mcp_cloudrun_proxy() {
  local -a commands
  commands=(
`, spec.Prog)
	for _, c := range spec.Commands {
		fmt.Fprintf(&b, "    '%s:%s'\n", c.Name, zshQuote(c.Help))
	}
	b.WriteString("  )\n  local curcontext=\"$curcontext\" state line\n  typeset -A opt_args\n  _arguments -C \\\n")
	for _, s := range zshFlagSpecs(spec.Flags) {
		b.WriteString("    " + s + " \\\n")
	}
	b.WriteString("    '1: :->command' \\\n    '*:: :->args' && return\n")
	b.WriteString("  case $state in\n    command) _describe -t commands 'mcp-cloudrun-proxy command' commands ;;\n    args)\n      case ${words[1]} in\n")
	for _, c := range spec.Commands {
		fmt.Fprintf(&b, "        %s)\n          _arguments \\\n", c.Name)
		for _, s := range zshFlagSpecs(c.Flags) {
			b.WriteString("            " + s + " \\\n")
		}
		if len(c.Args) > 0 {
			fmt.Fprintf(&b, "            '*:%s:(%s)' \\\n", c.Name, strings.Join(c.Args, " "))
		}
		b.WriteString("            && return ;;\n")
	}
	fmt.Fprintf(&b, `      esac ;;
  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _mcp_cloudrun_proxy "$@"
else
  compdef _mcp_cloudrun_proxy %s
fi
`, spec.Prog)
	return b.String()
}

// fishQuote escapes text for a single-quoted fish string.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}

// fishFlagLines returns one `complete` line per flag under the condition cond.
func fishFlagLines(prog, cond string, flags []compFlag) []string {
	var out []string
	for _, f := range flags {
		line := fmt.Sprintf("complete -c %s -n %s -l %s", prog, fishQuote(cond), f.Long)
		if f.Short != 0 {
			line += " -s " + string(f.Short)
		}
		if f.Value {
			switch {
			case len(f.Values) > 0:
				line += " -x -a " + fishQuote(strings.Join(f.Values, " "))
			case f.Dir:
				line += " -x -a '(__fish_complete_directories)'"
			case f.File:
				line += " -r -F"
			default:
				line += " -x"
			}
		}
		out = append(out, line+" -d "+fishQuote(f.Help))
	}
	return out
}

// fishCompletion is a list of `complete` commands keyed on the subcommand seen.
func fishCompletion(spec compSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# fish completion for %[1]s; save it as ~/.config/fish/completions/%[1]s.fish\ncomplete -c %[1]s -f\n", spec.Prog)
	for _, l := range fishFlagLines(spec.Prog, "__fish_use_subcommand", spec.Flags) {
		b.WriteString(l + "\n")
	}
	for _, c := range spec.Commands {
		fmt.Fprintf(&b, "complete -c %s -n __fish_use_subcommand -a %s -d %s\n", spec.Prog, c.Name, fishQuote(c.Help))
	}
	for _, c := range spec.Commands {
		cond := "__fish_seen_subcommand_from " + c.Name
		for _, l := range fishFlagLines(spec.Prog, cond, c.Flags) {
			b.WriteString(l + "\n")
		}
		if len(c.Args) > 0 {
			fmt.Fprintf(&b, "complete -c %s -n %s -a %s\n", spec.Prog, fishQuote(cond), fishQuote(strings.Join(c.Args, " ")))
		}
	}
	return b.String()
}
