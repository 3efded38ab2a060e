package main

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/cloudrun"
)

// connectionFlags are the flags that say which Cloud Run service to reach and how to
// authenticate. run, debug and install-config share them so that an entry written by
// install-config runs exactly what debug checked.
type connectionFlags struct {
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

// Validate checks the flags together; kong calls it after parsing.
func (f *connectionFlags) Validate() error {
	if err := f.validateService(); err != nil || f.Service != "" {
		return err
	}
	if f.URL == "" {
		return fmt.Errorf("--url (or MCP_CLOUDRUN_PROXY_URL) is required, or --service: the Cloud Run MCP endpoint, e.g. https://svc-xyz.a.run.app/mcp, or the service's name (with --region and --project unless gcloud's configuration names them)")
	}
	u, err := url.Parse(f.URL)
	if err != nil {
		if strings.Contains(f.URL, "@") {
			// The URL, which a *url.Error repeats, may hold a password: say only what is wrong.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return fmt.Errorf("--url (not shown, it may hold a password): %w", err)
		}
		return fmt.Errorf("--url %q: %w", f.URL, err)
	}
	if u.User != nil {
		// Refused rather than stripped: the relay sends no Basic credentials, so whatever
		// they were meant for would silently not happen, and the URL would be logged and
		// written into client configs with the password in it.
		return fmt.Errorf("--url %q: user info (user:password@) is not allowed; Cloud Run authenticates with the ID token, so remove it from the URL", u.Redacted())
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("--url %q: scheme must be https", f.URL)
	}
	if u.Host == "" {
		return fmt.Errorf("--url %q: no host", f.URL)
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("--url %q: plain http is allowed only for loopback hosts; use https", f.URL)
	}
	return validRefreshMargin(f.RefreshMargin)
}

// maxRefreshMargin is the largest --refresh-margin accepted: the lifetime of a Google ID
// token (one hour). Up to it, a margin not shorter than the token's lifetime means refreshing
// at half the lifetime, with a warning; beyond it no token could ever honour it, so it is a
// mistake (a value in milliseconds, say), as are NaN and infinities, which would act as 0.
const maxRefreshMargin = 3600

func validRefreshMargin(m float64) error {
	switch {
	case math.IsNaN(m) || math.IsInf(m, 0):
		return fmt.Errorf("--refresh-margin %v: must be a number of seconds between 0 and %d", m, maxRefreshMargin)
	case m < 0:
		return fmt.Errorf("--refresh-margin %v: must not be negative", m)
	case m > maxRefreshMargin:
		return fmt.Errorf("--refresh-margin %v: must be at most %d seconds, the lifetime of an ID token", m, maxRefreshMargin)
	}
	return nil
}

// audience returns --audience, or the origin of --url when it is empty.
func (f *connectionFlags) audience() string {
	if f.Audience != "" {
		return f.Audience
	}
	return defaultAudience(f.URL)
}

// defaultAudience is scheme://host[:port] of rawURL, which is what Cloud Run expects in aud:
// the host in lower case and a port only when it is not the scheme's default.
func defaultAudience(rawURL string) string { return cloudrun.Origin(rawURL) }

func (f *connectionFlags) refreshMargin() time.Duration {
	return time.Duration(f.RefreshMargin * float64(time.Second))
}

func (f *connectionFlags) slogLevel() slog.Level {
	switch f.LogLevel {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	default:
		return slog.LevelInfo
	}
}

// isLoopbackHost reports whether host is a loopback IP address or "localhost". A name such
// as 127.example.com is not: it resolves wherever its DNS says.
func isLoopbackHost(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
