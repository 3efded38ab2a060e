package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/tokens"
)

// defaultMemoryLimit is the Go runtime's soft memory limit for run unless GOMEMLIMIT is set.
const defaultMemoryLimit = 24 << 20

// runCmd is `mcp-cloudrun-proxy run`: the stdio MCP server an MCP client starts.
type runCmd struct {
	connectionFlags
	MaxMessageSize int `help:"Largest message in MiB accepted from the client or the server; a larger one is answered with an error." env:"MCP_CLOUDRUN_PROXY_MAX_MESSAGE_SIZE" default:"64" placeholder:"MIB"`
}

// Validate defers run's flag checks to Run: a client shows nothing but "connection closed"
// for a server that exits before its first answer, so run answers the client's requests with
// what is wrong instead.
func (c *runCmd) Validate() error { return nil }

// Run relays until stdin ends or a signal arrives. The token source starts in the background
// while stdin is already read; whatever keeps the relay from working is answered to every
// request, said once on stderr, and makes the exit status 1.
func (c *runCmd) Run(ctx context.Context, s *streams) error {
	if os.Getenv("GOMEMLIMIT") == "" {
		// The proxy sits beside every MCP client for hours; a soft limit keeps the garbage
		// of a large message from lingering as resident memory (peak RSS 56 -> 37 MB in
		// make bench, same speed). GOMEMLIMIT overrides it.
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	if os.Getenv("GOMAXPROCS") == "" {
		// The relay waits on pipes and sockets and computes little; with one processor its
		// goroutines hand work to each other without waking a second thread, about half the
		// CPU time per message (make bench). GOMAXPROCS overrides it.
		runtime.GOMAXPROCS(1)
	}
	log := newLogger(s.Stderr, c.slogLevel())
	if isTerminal(s.Stdin) {
		log.Warn("run speaks MCP on stdin and stdout and is meant to be started by an MCP client; to check the connection by hand, run: mcp-cloudrun-proxy debug " + c.flagsForHint())
	}
	auth := newStartingAuthorizer(s.Stderr)
	var url string
	if err := c.validate(); err != nil {
		auth.start(nil, err)
		url = "http://127.0.0.1/" // never contacted: every request fails at Authorize
	} else if _, err := c.resolveURL(ctx, log); err != nil {
		// --service: the Admin API said no (unknown service, no run.services.get, ...).
		auth.start(nil, err)
		url = "http://127.0.0.1/" // never contacted: every request fails at Authorize
	} else {
		url = c.URL // resolved from --service, if given
		go func() {
			cache, err := tokens.New(ctx, c.tokenOptions(log))
			if err == nil {
				d := cache.Describe()
				log.Info("relaying", "url", c.URL, "audience", c.audience(), "token_source", d.Source, "credential", d.CredentialType, "principal", d.Principal)
			}
			auth.start(cache, err)
		}()
	}
	defer func() {
		if cache, err := auth.ready(context.Background()); err == nil {
			cache.Close()
		}
	}()
	relay, err := proxy.New(proxy.Config{
		URL:            url,
		Auth:           auth,
		UserAgent:      "mcp-cloudrun-proxy/" + version,
		Logger:         log,
		MaxMessageSize: c.MaxMessageSize << 20,
		// The proxy idles beside its client for hours between bursts of calls: once a burst
		// is over, one collection hands what it freed back to the system instead of keeping
		// it for the next burst (make bench: idle RSS 16.4 -> 14.0 MB, 2 s after the load
		// 30.5 -> 16.7 MB).
		OnIdle: debug.FreeOSMemory,
		RejectionHint: func() string {
			cache, err := auth.ready(context.Background())
			if err != nil {
				return ""
			}
			return rejectionHint(c.audience(), cache.Describe())
		},
	})
	if err != nil {
		return &exitError{Code: 1, Err: err}
	}
	err = relay.Run(ctx, s.Stdin, s.Stdout)
	var startup *proxy.StartupError
	if errors.As(err, &startup) || auth.failed() {
		return &exitError{Code: 1} // said on stderr when it happened
	}
	if err != nil {
		return &exitError{Code: 1, Err: err}
	}
	return nil
}

// validate checks run's flags; Run answers the client with what is wrong.
func (c *runCmd) validate() error {
	if err := c.connectionFlags.Validate(); err != nil {
		return err
	}
	if c.MaxMessageSize < 1 || c.MaxMessageSize > 4096 {
		return fmt.Errorf("--max-message-size %d: must be between 1 and 4096 (MiB)", c.MaxMessageSize)
	}
	return nil
}

// flagsForHint repeats the connection flags given, for the hint printed in a terminal.
func (c *runCmd) flagsForHint() string {
	if c.URL == "" {
		return "--url URL"
	}
	return fmt.Sprintf("--url %q", c.URL)
}

// isTerminal reports whether r is an interactive terminal rather than a client's pipe.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// tokenOptions maps the connection flags onto the tokens module's options.
func (f *connectionFlags) tokenOptions(log *slog.Logger) tokens.Options {
	return tokens.Options{
		Source:                    f.TokenSource,
		Audience:                  f.audience(),
		ImpersonateServiceAccount: f.ImpersonateServiceAccount,
		RefreshMargin:             f.refreshMargin(),
		Logger:                    log,
	}
}

// rejectionHint tells the client, in the error for a twice-rejected token, what was sent:
// the audience the token was minted for and by whom.
func rejectionHint(audience string, d tokens.Description) string {
	parts := []string{"token source " + d.Source}
	if d.CredentialType != "" {
		parts = append(parts, "credential "+d.CredentialType)
	}
	if d.Principal != "" {
		parts = append(parts, "principal "+d.Principal)
	}
	if d.AudienceHonoured {
		parts = append(parts, "audience "+audience)
	} else {
		parts = append(parts, "this credential cannot set the audience to "+audience+"; try --token-source google-auth with a service account or --impersonate-service-account")
	}
	return strings.Join(parts, ", ")
}
