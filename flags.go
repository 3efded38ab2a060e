package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"
)

// connectionFlags are the flags that say which Cloud Run service to reach and how to
// authenticate. run, debug and install-config share them so that an entry written by
// install-config runs exactly what debug checked.
type connectionFlags struct {
	URL                       string  `help:"Streamable HTTP MCP endpoint on Cloud Run, e.g. https://svc-xyz.a.run.app/mcp." env:"MCP_CLOUDRUN_PROXY_URL"`
	Audience                  string  `help:"ID token audience (default: scheme://host[:port] of --url)." env:"MCP_CLOUDRUN_PROXY_AUDIENCE"`
	TokenSource               string  `help:"Where ID tokens come from: auto, google-auth (Application Default Credentials) or gcloud (gcloud auth print-identity-token; ignores the audience)." env:"MCP_CLOUDRUN_PROXY_TOKEN_SOURCE" enum:"auto,google-auth,gcloud" default:"auto"`
	ImpersonateServiceAccount string  `help:"Mint ID tokens as this service account (needs roles/iam.serviceAccountTokenCreator on it)." env:"MCP_CLOUDRUN_PROXY_IMPERSONATE_SERVICE_ACCOUNT" placeholder:"EMAIL"`
	LogLevel                  string  `help:"Log level on stderr: debug, info or warn." env:"MCP_CLOUDRUN_PROXY_LOG_LEVEL" enum:"debug,info,warn" default:"info"`
	RefreshMargin             float64 `help:"Seconds before token expiry to refresh it." env:"MCP_CLOUDRUN_PROXY_REFRESH_MARGIN" default:"60"`
}

// Validate checks the flags together; kong calls it after parsing.
func (f *connectionFlags) Validate() error {
	if f.URL == "" {
		return fmt.Errorf("--url (or MCP_CLOUDRUN_PROXY_URL) is required: the Cloud Run MCP endpoint, e.g. https://svc-xyz.a.run.app/mcp")
	}
	u, err := url.Parse(f.URL)
	if err != nil {
		return fmt.Errorf("--url %q: %w", f.URL, err)
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
	if f.RefreshMargin < 0 {
		return fmt.Errorf("--refresh-margin %v: must not be negative", f.RefreshMargin)
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
func defaultAudience(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" || (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		return scheme + "://" + host
	}
	return scheme + "://" + host + ":" + port
}

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
