package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/alecthomas/kong"
)

// commandExamples are shown at the end of a command's --help; path is the command's path
// ("" is the program itself). TestEveryCommandHasExamples keeps a new command from lacking them.
func commandExamples(path string) []string {
	return map[string][]string{
		"": {
			"mcp-cloudrun-proxy debug --url https://svc-xyz.a.run.app/mcp",
			"mcp-cloudrun-proxy install-config --client claude-desktop --url https://svc-xyz.a.run.app/mcp",
			"mcp-cloudrun-proxy run --url https://svc-xyz.a.run.app/mcp",
			"mcp-cloudrun-proxy help run",
		},
		"run": {
			"# what an MCP client runs (Application Default Credentials, audience = the service URL):",
			"mcp-cloudrun-proxy run --url https://svc-xyz.a.run.app/mcp",
			"# the same, by service name (its URL read from the Cloud Run Admin API):",
			"mcp-cloudrun-proxy run --service my-service --region us-central1 --project my-project",
			"# as a service account that holds roles/run.invoker:",
			"mcp-cloudrun-proxy run --url https://svc-xyz.a.run.app/mcp \\",
			"    --impersonate-service-account mcp-client@my-project.iam.gserviceaccount.com",
			"# with the gcloud CLI's identity token and debug logs on stderr:",
			"mcp-cloudrun-proxy run --url https://svc-xyz.a.run.app/mcp --token-source gcloud --log-level debug",
		},
		"debug": {
			"mcp-cloudrun-proxy debug --url https://svc-xyz.a.run.app/mcp",
			"mcp-cloudrun-proxy debug --url https://svc-xyz.a.run.app/mcp --json --timeout 10s",
		},
		"install-config": {
			"mcp-cloudrun-proxy install-config --client claude-desktop --url https://svc-xyz.a.run.app/mcp --dry-run",
			"mcp-cloudrun-proxy install-config --client claude-code --scope user --url https://svc-xyz.a.run.app/mcp",
			"mcp-cloudrun-proxy install-config --client all --url https://svc-xyz.a.run.app/mcp --remove",
		},
		"list-config": {
			"mcp-cloudrun-proxy list-config",
		},
		"services": {
			"mcp-cloudrun-proxy services --project my-project",
			"mcp-cloudrun-proxy services --project my-project --region us-central1 --initialize",
			"mcp-cloudrun-proxy services --json",
		},
		"completion": {
			"mcp-cloudrun-proxy completion bash > ~/.local/share/bash-completion/completions/mcp-cloudrun-proxy",
			"mcp-cloudrun-proxy completion zsh > \"${fpath[1]}/_mcp-cloudrun-proxy\"",
			"mcp-cloudrun-proxy completion fish > ~/.config/fish/completions/mcp-cloudrun-proxy.fish",
		},
		"version": {
			"mcp-cloudrun-proxy version",
			"mcp-cloudrun-proxy --version",
		},
		"help": {
			"mcp-cloudrun-proxy help",
			"mcp-cloudrun-proxy help install-config",
		},
	}[path]
}

// helpWithExamples is kong's help followed by the selected command's examples.
func helpWithExamples(options kong.HelpOptions, ctx *kong.Context) error {
	if err := kong.DefaultHelpPrinter(options, ctx); err != nil {
		return err
	}
	if options.Summary {
		return nil // the short usage printed under a parse error
	}
	path := ""
	if node := ctx.Selected(); node != nil {
		path = commandPath(node)
	}
	lines := commandExamples(path)
	if len(lines) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("\nExamples:\n")
	for _, l := range lines {
		b.WriteString("  " + l + "\n")
	}
	_, err := io.WriteString(ctx.Stdout, b.String())
	return err
}

// commandPath is node's path below the program, e.g. "install-config".
func commandPath(node *kong.Node) string {
	var names []string
	for n := node; n != nil && n.Type == kong.CommandNode; n = n.Parent {
		names = append([]string{n.Name}, names...)
	}
	return strings.Join(names, " ")
}

// bareUsage answers an invocation without arguments: the program's help on stderr and exit
// code 2. Not stdout: an MCP client started with a broken config reads stdout as MCP.
func bareUsage(parser *kong.Kong, stderr io.Writer) int {
	parser.Stdout = stderr
	ctx, err := kong.Trace(parser, nil)
	if err == nil {
		err = ctx.PrintUsage(false)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mcp-cloudrun-proxy: %v\n", err)
	}
	return 2
}

// helpCmd is `mcp-cloudrun-proxy help [COMMAND]`: the same text as --help, on stdout.
type helpCmd struct {
	Command []string `arg:"" optional:"" help:"The command to explain (default: the whole program)."`
}

// Run prints the help of the named command.
func (c *helpCmd) Run(kctx *kong.Context) error {
	ctx, err := kong.Trace(kctx.Kong, c.Command)
	if err != nil {
		return &exitError{Code: 2, Err: fmt.Errorf("help %s: %w; run `mcp-cloudrun-proxy help` for the list of commands", strings.Join(c.Command, " "), err)}
	}
	if ctx.Error != nil {
		return &exitError{Code: 2, Err: fmt.Errorf("help %s: %w; run `mcp-cloudrun-proxy help` for the list of commands", strings.Join(c.Command, " "), ctx.Error)}
	}
	return ctx.PrintUsage(false)
}

// versionCmd is `mcp-cloudrun-proxy version`, the same as --version.
type versionCmd struct{}

// Run prints the version line.
func (versionCmd) Run(s *streams) error {
	_, err := fmt.Fprintln(s.Stdout, versionString())
	return err
}
