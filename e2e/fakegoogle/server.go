package fakegoogle

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Issuer is the iss claim of every ID token the fake mints, as real Google does.
const Issuer = "https://accounts.google.com"

// GcloudClientID is the OAuth client id of the gcloud CLI; ID tokens gcloud prints for user
// accounts carry it as aud.
const GcloudClientID = "32555940559.apps.googleusercontent.com"

// ADCClientID is the OAuth client id that `gcloud auth application-default login` writes into
// authorized_user files; the ID tokens of the refresh-token grant carry it as aud.
const ADCClientID = "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com"

// Route names, the keys of [Server.TokensIssued].
const (
	RouteJWTBearerIDToken     = "token/jwt-bearer/id_token"
	RouteJWTBearerAccessToken = "token/jwt-bearer/access_token"
	RouteRefreshToken         = "token/refresh_token"
	RouteGenerateIDToken      = "iam/generateIdToken"
	RouteGenerateAccessToken  = "iam/generateAccessToken"
	RouteMetadataIdentity     = "metadata/identity"
	RouteMetadataToken        = "metadata/token"
)

// Options configure a [Server]. The zero value is usable.
type Options struct {
	// TokenLifetime is the lifetime of every ID and access token issued. Zero means one hour.
	TokenLifetime time.Duration
	// MetadataEmail is the service account the metadata server answers for. Empty means
	// "metadata-sa@fake-project.iam.gserviceaccount.com".
	MetadataEmail string
	// Logger receives one line per request (never a token). Nil means no logging.
	Logger *slog.Logger
}

// A Server is a running fake Google. Close it when done.
type Server struct {
	opts Options
	key  *rsa.PrivateKey
	kid  string

	api      *http.Server
	apiURL   string
	metadata *http.Server
	mdHost   string

	mu            sync.Mutex
	lifetime      time.Duration
	saKeys        map[string]*rsa.PublicKey // client_email -> public key
	refreshTokens map[string]refreshGrant   // refresh token -> grant
	accessTokens  map[string]accessGrant    // access token -> grant
	issued        map[string]struct{}       // sha256 of every token issued, not revoked
	revoked       map[string]struct{}       // sha256 of every revoked token
	issuedBy      map[string]int            // route -> count
	failNext      []failure                 // injected token-endpoint failures
	revokeFuture  bool                      // revoke every token as it is issued
	saKeyCache    map[string]*rsa.PrivateKey
	runServices   map[string]RunService // Admin API v2 services by resource name
	runCalls      map[string]int        // Admin API method -> requests
}

type refreshGrant struct {
	clientID, clientSecret, email string
}

type accessGrant struct {
	email string
	exp   time.Time
}

type failure struct {
	status int
}

// New starts a fake Google on two loopback ports.
func New(opts Options) (*Server, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	if opts.MetadataEmail == "" {
		opts.MetadataEmail = "metadata-sa@fake-project.iam.gserviceaccount.com"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	lifetime := opts.TokenLifetime
	if lifetime <= 0 {
		lifetime = time.Hour
	}
	s := &Server{
		opts:          opts,
		key:           key,
		kid:           randomHex(8),
		lifetime:      lifetime,
		saKeys:        map[string]*rsa.PublicKey{},
		refreshTokens: map[string]refreshGrant{},
		accessTokens:  map[string]accessGrant{},
		issued:        map[string]struct{}{},
		revoked:       map[string]struct{}{},
		issuedBy:      map[string]int{},
		saKeyCache:    map[string]*rsa.PrivateKey{},
	}
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the fake Google API: %w", err)
	}
	mdLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		apiLn.Close()
		return nil, fmt.Errorf("listen for the fake metadata server: %w", err)
	}
	s.apiURL = "http://" + apiLn.Addr().String()
	s.mdHost = mdLn.Addr().String()
	s.api = &http.Server{Handler: s.apiHandler(), ReadHeaderTimeout: 10 * time.Second}
	s.metadata = &http.Server{Handler: s.metadataHandler(), ReadHeaderTimeout: 10 * time.Second}
	go s.api.Serve(apiLn)
	go s.metadata.Serve(mdLn)
	return s, nil
}

// Close stops both listeners and closes every connection.
func (s *Server) Close() error {
	return errors.Join(s.api.Close(), s.metadata.Close())
}

// URL is the base URL of the API listener (token endpoint, IAM Credentials, JWKS), without a
// trailing slash.
func (s *Server) URL() string { return s.apiURL }

// TokenURL is the OAuth token endpoint, as written into token_uri.
func (s *Server) TokenURL() string { return s.apiURL + "/token" }

// JWKSURL is where the public signing keys are published.
func (s *Server) JWKSURL() string { return s.apiURL + "/oauth2/v3/certs" }

// MetadataHost is host:port of the metadata server, the value of GCE_METADATA_HOST.
func (s *Server) MetadataHost() string { return s.mdHost }

// MetadataEmail is the service account the metadata server answers for.
func (s *Server) MetadataEmail() string { return s.opts.MetadataEmail }

// PublicKey is the key that verifies every ID token the fake issues.
func (s *Server) PublicKey() *rsa.PublicKey { return &s.key.PublicKey }

// KeyID is the kid header of every ID token the fake issues.
func (s *Server) KeyID() string { return s.kid }

// SetTokenLifetime changes the lifetime of tokens issued from now on.
func (s *Server) SetTokenLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lifetime = d
}

// TokensIssued returns how many tokens each route issued, keyed by the Route* constants.
func (s *Server) TokensIssued() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.issuedBy))
	for k, v := range s.issuedBy {
		out[k] = v
	}
	return out
}

// TotalIssued is the sum of [Server.TokensIssued].
func (s *Server) TotalIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.issuedBy {
		n += v
	}
	return n
}

// RevokeAll invalidates every ID and access token issued so far; tokens issued later are
// valid. Refresh tokens and keys stay valid, as after a real revocation of short-lived tokens.
func (s *Server) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h := range s.issued {
		s.revoked[h] = struct{}{}
	}
	s.issued = map[string]struct{}{}
}

// RevokeFutureTokens, while on, revokes every token as it is issued, so that even a fresh
// token is refused (as when the credential itself was disabled).
func (s *Server) RevokeFutureTokens(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revokeFuture = on
}

// IsRevoked reports whether raw was revoked by [Server.RevokeAll].
func (s *Server) IsRevoked(raw string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.revoked[hashToken(raw)]
	return ok
}

// WasIssued reports whether raw is a token this fake issued (revoked or not).
func (s *Server) WasIssued(raw string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := hashToken(raw)
	_, ok := s.issued[h]
	_, rev := s.revoked[h]
	return ok || rev
}

// FailNext makes the next n token-minting requests (token endpoint, IAM Credentials, metadata
// identity and token) fail with status, as during a Google outage.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext = append(s.failNext, failure{status: status})
	}
}

// takeFailure pops one injected failure, if any.
func (s *Server) takeFailure() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failNext) == 0 {
		return 0, false
	}
	f := s.failNext[0]
	s.failNext = s.failNext[1:]
	return f.status, true
}

// recordIssued remembers a token (as a hash) and counts it under route.
func (s *Server) recordIssued(route, raw string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.revokeFuture {
		s.revoked[hashToken(raw)] = struct{}{}
	} else {
		s.issued[hashToken(raw)] = struct{}{}
	}
	s.issuedBy[route]++
}

func (s *Server) tokenLifetime() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lifetime
}

func hashToken(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// logRequest logs method and path only: bodies and headers carry secrets.
func (s *Server) logRequest(ctx context.Context, r *http.Request, status int) {
	s.opts.Logger.InfoContext(ctx, "fakegoogle request", "method", r.Method, "path", r.URL.Path, "status", status)
}
