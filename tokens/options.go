package tokens

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"
)

// Source names accepted in [Options.Source] and reported in [Description.Source].
const (
	SourceAuto       = "auto"
	SourceGoogleAuth = "google-auth"
	SourceGcloud     = "gcloud"
)

// Environment variables read through [Options.Getenv], besides Google's own
// (GOOGLE_APPLICATION_CREDENTIALS, CLOUDSDK_CONFIG, GCE_METADATA_HOST, HOME, APPDATA, PATH).
const (
	// EnvIAMEndpoint overrides https://iamcredentials.googleapis.com for
	// --impersonate-service-account (tests point it at a fake).
	EnvIAMEndpoint = "MCP_CLOUDRUN_PROXY_IAM_ENDPOINT"
	// EnvNoGCECheck, when "true" or "1", skips the metadata-server probe in auto/ADC
	// resolution (the name Google's Python library uses). GCE_METADATA_HOST still wins.
	EnvNoGCECheck = "NO_GCE_CHECK"
)

const (
	defaultIAMEndpoint   = "https://iamcredentials.googleapis.com"
	defaultOAuthTokenURL = "https://oauth2.googleapis.com/token"
	cloudPlatformScope   = "https://www.googleapis.com/auth/cloud-platform"
	defaultGcloudTimeout = 30 * time.Second
	metadataProbeTimeout = time.Second
)

// Options configure [NewProvider], [New] and [NewCache]. The zero value of every field is a
// documented default.
type Options struct {
	// Source is "auto" or "" (pick google-auth or gcloud), "google-auth" or "gcloud".
	Source string
	// Audience is the aud the ID token should carry. gcloud ignores it for user accounts
	// (logged at debug level), and authorized_user ADC cannot honour it.
	Audience string
	// ImpersonateServiceAccount, when set, mints tokens as this service account through IAM
	// Credentials generateIdToken (google-auth) or gcloud --impersonate-service-account.
	ImpersonateServiceAccount string
	// RefreshMargin is how long before exp the cache refreshes; 0 means at expiry.
	RefreshMargin time.Duration
	// Logger receives diagnostics; nil discards them. Tokens are never logged.
	Logger *slog.Logger
	// HTTPClient makes every HTTP request; nil means a client with timeouts.
	HTTPClient *http.Client
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Now is the clock used for expiry decisions; nil means time.Now.
	Now func() time.Time
	// After is the timer used by the background refresher and its backoff; nil means
	// time.After. Tests pass a fake clock so expiry tests run in milliseconds.
	After func(time.Duration) <-chan time.Time
	// GcloudPath is the gcloud executable; "" looks up "gcloud" on PATH (from Getenv).
	GcloudPath string
	// GcloudTimeout bounds each gcloud invocation; 0 means 30s.
	GcloudTimeout time.Duration

	// metadataIP replaces 169.254.169.254 (probe and default host) in tests.
	metadataIP string
}

// env is Options with every default filled in.
type env struct {
	Options
	// userHTTPClient is true when Options.HTTPClient was given (tests); the metadata server
	// then uses it too.
	userHTTPClient bool
}

func resolveOptions(o Options) env {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	userClient := o.HTTPClient != nil
	if !userClient {
		o.HTTPClient = defaultHTTPClient()
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
	if o.GcloudTimeout <= 0 {
		o.GcloudTimeout = defaultGcloudTimeout
	}
	if o.metadataIP == "" {
		o.metadataIP = defaultMetadataIP
	}
	if o.Source == "" {
		o.Source = SourceAuto
	}
	return env{Options: o, userHTTPClient: userClient}
}

func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{Transport: t, Timeout: 60 * time.Second}
}

// iamEndpoint is the base URL for generateIdToken when impersonating via the flag.
func (e env) iamEndpoint() string {
	if v := e.Getenv(EnvIAMEndpoint); v != "" {
		return v
	}
	return defaultIAMEndpoint
}

func jsonUnmarshalString(s string, v any) error { return json.Unmarshal([]byte(s), v) }
