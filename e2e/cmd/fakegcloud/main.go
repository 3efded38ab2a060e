// Command fakegcloud stands in for the gcloud CLI in tests. Install it as "gcloud" on PATH.
//
// It reads its state from $CLOUDSDK_CONFIG/fakegcloud.json (see fakegoogle.GcloudConfig;
// CLOUDSDK_CONFIG defaults to $HOME/.config/gcloud) and obtains tokens from the fake Google
// named there, over HTTP. It supports:
//
//	gcloud auth print-identity-token [--audiences=A] [--impersonate-service-account=E] [--include-email]
//	gcloud auth print-access-token [--impersonate-service-account=E]
//	gcloud config get-value account
//	gcloud auth list [--filter=...] [--format=value(account)]
//	gcloud version
//
// Every invocation appends its arguments (never a token) to $CLOUDSDK_CONFIG/fakegcloud.calls
// so that tests can count calls. With no active account it fails as gcloud does.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakegoogle"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func configDir() string {
	if d := os.Getenv("CLOUDSDK_CONFIG"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".config", "gcloud")
}

// flags splits args into positional words and --name[=value] flags.
func flags(args []string) (words []string, named map[string]string) {
	named = map[string]string{}
	valued := map[string]bool{"--audiences": true, "--impersonate-service-account": true, "--format": true, "--filter": true, "--verbosity": true, "--account": true, "--project": true}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			words = append(words, a)
			continue
		}
		name, val, ok := strings.Cut(a, "=")
		if !ok && valued[name] && i+1 < len(args) {
			i++
			val = args[i]
		}
		named[name] = val
	}
	return words, named
}

func run(args []string, stdout, stderr io.Writer) int {
	dir := configDir()
	if f, err := os.OpenFile(filepath.Join(dir, "fakegcloud.calls"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		fmt.Fprintln(f, strings.Join(args, " "))
		f.Close()
	}
	words, named := flags(args)
	cmd := strings.Join(words, " ")
	if cmd == "version" || named["--version"] != "" || hasFlag(args, "--version") {
		fmt.Fprintln(stdout, "Google Cloud SDK 999.0.0 (fakegcloud)")
		return 0
	}
	cfg, err := fakegoogle.ReadGcloudConfig(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stderr, "ERROR: (gcloud) %v\n", err)
		return 1
	}
	if a := named["--account"]; a != "" && a != cfg.Account {
		cfg.Account = ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hc := &http.Client{Timeout: 20 * time.Second}
	switch cmd {
	case "config get-value account", "config get account":
		if cfg.Account == "" {
			fmt.Fprintln(stderr, "(unset)")
			return 0
		}
		fmt.Fprintln(stdout, cfg.Account)
		return 0
	case "auth list":
		if cfg.Account == "" {
			fmt.Fprintln(stderr, "No credentialed accounts.\n\nTo login, run:\n  $ gcloud auth login `ACCOUNT`")
			return 0
		}
		if strings.HasPrefix(named["--format"], "value(") {
			fmt.Fprintln(stdout, cfg.Account)
			return 0
		}
		fmt.Fprintf(stdout, "Credentialed Accounts\nACTIVE  ACCOUNT\n*       %s\n\nTo set the active account, run:\n    $ gcloud config set account `ACCOUNT`\n\n", cfg.Account)
		return 0
	case "auth print-identity-token", "auth print-access-token":
		gcmd := "gcloud." + strings.ReplaceAll(cmd, " ", ".")
		if cfg.Account == "" {
			fmt.Fprintf(stderr, "ERROR: (%s) You do not currently have an active account selected.\nPlease run:\n\n  $ gcloud auth login\n\nto obtain new credentials.\n\nIf you have already logged in with a different account, run:\n\n  $ gcloud config set account ACCOUNT\n\nto select an already authenticated account to use.\n", gcmd)
			return 1
		}
		if cfg.DelayMillis > 0 {
			time.Sleep(time.Duration(cfg.DelayMillis) * time.Millisecond)
		}
		var tok string
		switch {
		case cmd == "auth print-access-token" && named["--impersonate-service-account"] != "":
			tok, err = cfg.ImpersonatedAccessToken(ctx, hc, named["--impersonate-service-account"])
		case cmd == "auth print-access-token":
			tok, err = cfg.AccessToken(ctx, hc)
		default:
			aud, imp := named["--audiences"], named["--impersonate-service-account"]
			if aud != "" && imp == "" && cfg.AccountType != "service_account" {
				fmt.Fprintf(stderr, "ERROR: (%s) Invalid account type for `--audiences`. Requires valid service account.\n", gcmd)
				return 1
			}
			tok, err = cfg.IdentityToken(ctx, hc, aud, imp)
		}
		if err != nil {
			fmt.Fprintf(stderr, "ERROR: (%s) There was a problem refreshing your current auth tokens: %v\nPlease run:\n\n  $ gcloud auth login\n\nto obtain new credentials.\n", gcmd, err)
			return 1
		}
		fmt.Fprintln(stdout, tok)
		return 0
	default:
		fmt.Fprintf(stderr, "ERROR: (gcloud) fakegcloud does not implement %q\n", strings.Join(args, " "))
		return 2
	}
}

func hasFlag(args []string, f string) bool {
	for _, a := range args {
		if a == f {
			return true
		}
	}
	return false
}
