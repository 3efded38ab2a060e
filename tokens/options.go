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

// Environment variables read (through the getenv hook), besides Google's own
// (GOOGLE_APPLICATION_CREDENTIALS, CLOUDSDK_CONFIG, GCE_METADATA_HOST, HOME, APPDATA, PATH).
const (
	// envIAMEndpoint overrides https://iamcredentials.googleapis.com for
	// --impersonate-service-account (tests point it at a fake).
	envIAMEndpoint = "MCP_CLOUDRUN_PROXY_IAM_ENDPOINT"
	// envNoGCECheck, when "true" or "1", skips the metadata-server probe in auto/ADC
	// resolution (the name Google's Python library uses). GCE_METADATA_HOST still wins.
	envNoGCECheck = "NO_GCE_CHECK"
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

	// Test hooks; the zero value of each is what production uses.

	// httpClient makes every HTTP request; nil means a client with timeouts.
	httpClient *http.Client
	// getenv reads the environment; nil means os.Getenv.
	getenv func(string) string
	// now is the clock used for expiry decisions; nil means time.Now.
	now func() time.Time
	// after is the timer of the background refresher and its backoff; nil means time.After.
	// Tests pass a fake clock so expiry tests run in milliseconds.
	after func(time.Duration) <-chan time.Time
	// gcloudPath is the gcloud executable; "" looks up "gcloud" on PATH (from getenv).
	gcloudPath string
	// gcloudTimeout bounds each gcloud invocation; 0 means 30s.
	gcloudTimeout time.Duration
	// metadataIP replaces 169.254.169.254 (probe and default host) in tests.
	metadataIP string
}

// env is Options with every default filled in.
type env struct {
	Options
	// userHTTPClient is true when Options.httpClient was given (tests); the metadata server
	// then uses it too.
	userHTTPClient bool
}

func resolveOptions(o Options) env {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	userClient := o.httpClient != nil
	if !userClient {
		o.httpClient = defaultHTTPClient()
	}
	if o.getenv == nil {
		o.getenv = os.Getenv
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.after == nil {
		o.after = time.After
	}
	if o.gcloudTimeout <= 0 {
		o.gcloudTimeout = defaultGcloudTimeout
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
	if v := e.getenv(envIAMEndpoint); v != "" {
		return v
	}
	return defaultIAMEndpoint
}

func jsonUnmarshalString(s string, v any) error { return json.Unmarshal([]byte(s), v) }
