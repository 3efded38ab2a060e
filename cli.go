package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"

	"github.com/alecthomas/kong"
)

// cli is the whole command line. Each command is a struct in its own <name>_cmd.go file.
type cli struct {
	VersionFlag kong.VersionFlag `name:"version" short:"v" help:"Print version, commit and Go version, then exit."`

	Run           runCmd           `cmd:"" help:"Relay MCP over stdio to a Cloud Run MCP endpoint, adding Google ID tokens."`
	InstallConfig installConfigCmd `cmd:"" help:"Add (or --remove, --list) this proxy in an MCP client's config." name:"install-config"`
	ListConfig    listConfigCmd    `cmd:"" help:"List the MCP client entries that run this proxy." name:"list-config"`
	Debug         debugCmd         `cmd:"" help:"Check step by step why a connection fails, and say how to fix it."`
	Services      servicesCmd      `cmd:"" help:"List the Cloud Run services you can see, with URL, ingress and whether you may invoke each."`
	Completion    completionCmd    `cmd:"" help:"Print a shell completion script for bash, zsh or fish."`
	Version       versionCmd       `cmd:"" help:"Print version, commit and Go version."`
	Help          helpCmd          `cmd:"" help:"Show help for the program or a command."`
}

// streams are the process's standard streams, bound into every command's Run.
type streams struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// exitError carries a specific exit code out of a command.
type exitError struct {
	Code int
	Err  error
}

func (e *exitError) Error() string { return e.Err.Error() }
func (e *exitError) Unwrap() error { return e.Err }

func versionString() string { return versionLine(version, commit) }

// versionLine is what --version prints. An untagged build's version holds the commit already
// (git describe: a4860dd, v0.1.0-3-ga4860dd), so the commit is then said once.
func versionLine(version, commit string) string {
	if commit != "" && strings.Contains(version, commit) {
		return fmt.Sprintf("mcp-cloudrun-proxy %s (%s)", version, runtime.Version())
	}
	return fmt.Sprintf("mcp-cloudrun-proxy %s (commit %s, %s)", version, commit, runtime.Version())
}

// execute parses args and runs the chosen command, returning the process exit code.
func execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var c cli
	exited := -1
	parser, err := kong.New(&c,
		kong.Name("mcp-cloudrun-proxy"),
		kong.Description("Use an IAM-protected MCP server on Google Cloud Run from any local MCP client."),
		kong.UsageOnError(),
		kong.Vars{"version": versionString(), "clients": clientNames()},
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { exited = code; panic(kongExit{}) }),
		kong.BindTo(ctx, (*context.Context)(nil)),
		kong.Bind(&streams{Stdin: stdin, Stdout: stdout, Stderr: stderr}),
		kong.Help(helpWithExamples),
	)
	if err != nil {
		fmt.Fprintf(stderr, "mcp-cloudrun-proxy: %v\n", err)
		return 2
	}
	if len(args) == 0 {
		return bareUsage(parser, stderr)
	}
	code := func() (code int) {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(kongExit); !ok {
					panic(r)
				}
				code = exited
			}
		}()
		kctx, err := parser.Parse(args)
		if err != nil {
			parser.Errorf("%s", err)
			if kctx != nil {
				_ = kctx.PrintUsage(true)
			}
			return 2
		}
		if err := kctx.Run(); err != nil {
			var ee *exitError
			if errors.As(err, &ee) {
				if ee.Err != nil {
					fmt.Fprintf(stderr, "mcp-cloudrun-proxy: %v\n", ee.Err)
				}
				return ee.Code
			}
			fmt.Fprintf(stderr, "mcp-cloudrun-proxy: %v\n", err)
			return 1
		}
		return 0
	}()
	return code
}

// kongExit unwinds out of kong when it wants to exit (--help, --version) so that execute can
// return a code instead of the process exiting under a test.
type kongExit struct{}

// newLogger returns the stderr logger every command uses; stdout is reserved for MCP.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
