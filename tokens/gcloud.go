package tokens

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/cloudrun"
)

const (
	fixInstallGcloud = "install the Google Cloud SDK (https://cloud.google.com/sdk/docs/install) or use --token-source google-auth"
	fixGcloudLogin   = "run `gcloud auth login`"
)

// gcloudProvider runs `gcloud auth print-identity-token`.
type gcloudProvider struct {
	e       env
	path    string
	account string
	desc    Description
}

var _ Provider = (*gcloudProvider)(nil)

// passedEnv are the variables forwarded from Options.getenv to gcloud, on top of the process
// environment, so that an injected environment (tests, hermetic runs) reaches gcloud too.
var passedEnv = []string{
	"PATH", "HOME", "APPDATA", "CLOUDSDK_CONFIG", "CLOUDSDK_CORE_ACCOUNT",
	"CLOUDSDK_CORE_PROJECT", "CLOUDSDK_PYTHON", "CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT",
	"GOOGLE_APPLICATION_CREDENTIALS",
}

// newGcloud finds gcloud and its active account; it fails with the fix when gcloud is missing
// or logged out.
func newGcloud(ctx context.Context, e env) (*gcloudProvider, error) {
	path, err := findGcloud(e)
	if err != nil {
		return nil, err
	}
	p := &gcloudProvider{e: e, path: path}
	account, err := p.activeAccount(ctx)
	if err != nil {
		return nil, err
	}
	p.account = account
	p.desc = Description{
		Source:              SourceGcloud,
		CredentialType:      TypeGcloud,
		Principal:           account,
		ImpersonationTarget: p.impersonationTarget(),
		AudienceHonoured:    p.sendsAudience(),
		Why:                 "gcloud at " + path + " is logged in as " + account,
	}
	if !p.sendsAudience() {
		e.Logger.Debug("gcloud mints ID tokens for user accounts with its own audience; --audience is ignored",
			"account", account, "audience", e.Audience)
	}
	return p, nil
}

// sendsAudience reports whether gcloud accepts --audiences here: only for service accounts and
// impersonation.
func (p *gcloudProvider) sendsAudience() bool {
	return p.impersonationTarget() != "" || cloudrun.IsServiceAccount(p.account)
}

// impersonationTarget is the service account gcloud impersonates: ours, or the one set in
// gcloud's own environment variable, which it honours as if given on the command line.
func (p *gcloudProvider) impersonationTarget() string {
	if p.e.ImpersonateServiceAccount != "" {
		return p.e.ImpersonateServiceAccount
	}
	return p.e.getenv("CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT")
}

// Describe implements [Provider].
func (p *gcloudProvider) Describe() Description { return p.desc }

// Fetch implements [Provider]. gcloud caches its tokens, so "fresh" means what gcloud returns.
func (p *gcloudProvider) Fetch(ctx context.Context) (Token, error) {
	args := []string{"auth", "print-identity-token"}
	if imp := p.e.ImpersonateServiceAccount; imp != "" {
		args = append(args, "--impersonate-service-account="+imp, "--include-email")
	}
	if p.sendsAudience() && p.e.Audience != "" {
		args = append(args, "--audiences="+p.e.Audience)
	}
	out, err := p.run(ctx, args...)
	if err != nil {
		return Token{}, err
	}
	t, err := ParseToken(out)
	if err != nil {
		return Token{}, fmt.Errorf("gcloud auth print-identity-token printed something that is not an ID token (%v); run it yourself to see why", err)
	}
	return t, nil
}

// activeAccount returns gcloud's active account, or the "log in" error.
func (p *gcloudProvider) activeAccount(ctx context.Context) (string, error) {
	out, err := p.run(ctx, "config", "get-value", "account")
	if err != nil {
		return "", err
	}
	account := strings.TrimSpace(out)
	if account == "" || account == "(unset)" {
		return "", fmt.Errorf("gcloud has no active account: %s (or `gcloud config set account ACCOUNT`)", fixGcloudLogin)
	}
	return account, nil
}

// run executes gcloud with a timeout and returns stdout. Errors carry gcloud's stderr,
// redacted, and the fix.
func (p *gcloudProvider) run(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, p.e.gcloudTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.path, args...)
	cmd.Env = gcloudEnviron(p.e)
	killProcessGroupOnCancel(cmd)
	// If a child still outlives the kill and holds our pipes, stop waiting for it.
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	name := "gcloud " + strings.Join(args, " ")
	if err == nil {
		return stdout.String(), nil
	}
	msg := redactSecrets(stderr.String())
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return "", fmt.Errorf("%s did not finish within %s; check that gcloud works (`gcloud auth list`) or use --token-source google-auth", name, p.e.gcloudTimeout)
	case errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("gcloud not found at %s: %s", p.path, fixInstallGcloud)
	case looksLoggedOut(msg):
		return "", fmt.Errorf("%s failed: gcloud is not logged in or its login expired: %s (gcloud said: %s)", name, fixGcloudLogin, msg)
	case msg == "":
		return "", fmt.Errorf("%s failed: %v", name, err)
	default:
		return "", fmt.Errorf("%s failed: %v: %s", name, err, msg)
	}
}

func looksLoggedOut(stderr string) bool {
	s := strings.ToLower(stderr)
	for _, k := range []string{"gcloud auth login", "do not currently have an active account", "reauthentication", "no credentialed accounts", "refresh token has expired", "invalid_grant"} {
		if strings.Contains(s, k) {
			return true
		}
	}
	return false
}

// gcloudEnviron is the process environment with the injected values of passedEnv on top.
func gcloudEnviron(e env) []string {
	base := os.Environ()
	set := map[string]bool{}
	var extra []string
	for _, k := range passedEnv {
		if v := e.getenv(k); v != "" {
			set[k] = true
			extra = append(extra, k+"="+v)
		}
	}
	out := make([]string, 0, len(base)+len(extra))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !set[k] {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

// findGcloud returns Options.gcloudPath or gcloud's path on the (injected) PATH.
func findGcloud(e env) (string, error) {
	if e.gcloudPath != "" {
		if _, err := os.Stat(e.gcloudPath); err != nil {
			return "", fmt.Errorf("gcloud not found at %s: %s", e.gcloudPath, fixInstallGcloud)
		}
		return e.gcloudPath, nil
	}
	names := []string{"gcloud"}
	if runtime.GOOS == "windows" {
		names = []string{"gcloud.cmd", "gcloud.exe", "gcloud.bat"}
	}
	for _, dir := range filepath.SplitList(e.getenv("PATH")) {
		if dir == "" {
			continue
		}
		for _, n := range names {
			p := filepath.Join(dir, n)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() && (runtime.GOOS == "windows" || fi.Mode()&0o111 != 0) {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("gcloud not found on PATH: %s", fixInstallGcloud)
}
