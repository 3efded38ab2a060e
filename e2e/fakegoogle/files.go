package fakegoogle

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// A Kind names one way a process obtains Google ID tokens.
type Kind string

// The kinds [Server.Setup] prepares.
const (
	// ServiceAccountKey: GOOGLE_APPLICATION_CREDENTIALS names a service-account key file.
	ServiceAccountKey Kind = "service-account-key"
	// Metadata: no credential file; GCE_METADATA_HOST points at the fake metadata server.
	Metadata Kind = "metadata"
	// AuthorizedUser: GOOGLE_APPLICATION_CREDENTIALS names an authorized_user file, as
	// `gcloud auth application-default login` writes; ID tokens have aud = [ADCClientID].
	AuthorizedUser Kind = "authorized-user"
	// AuthorizedUserWellKnown: the same authorized_user file at the well-known ADC location
	// ($CLOUDSDK_CONFIG/application_default_credentials.json), with no
	// GOOGLE_APPLICATION_CREDENTIALS.
	AuthorizedUserWellKnown Kind = "authorized-user-well-known"
	// ImpersonatedADC: GOOGLE_APPLICATION_CREDENTIALS names an impersonated_service_account
	// file whose source is an authorized_user.
	ImpersonatedADC Kind = "impersonated-adc"
	// ImpersonateFlag: a service-account key as ADC plus --impersonate-service-account.
	ImpersonateFlag Kind = "impersonate-flag"
	// Gcloud: --token-source gcloud with the fakegcloud command on PATH, logged in as a user.
	Gcloud Kind = "gcloud"
	// GcloudServiceAccount: --token-source gcloud, gcloud activated with a service-account key.
	GcloudServiceAccount Kind = "gcloud-service-account"
)

// AllKinds lists every [Kind], in a stable order, for table-driven tests.
var AllKinds = []Kind{ServiceAccountKey, Metadata, AuthorizedUser, ImpersonatedADC, ImpersonateFlag, Gcloud}

// Emails of the principals the helpers create.
const (
	ServiceAccountEmail = "proxy-test@fake-project.iam.gserviceaccount.com"
	TargetEmail         = "invoker@fake-project.iam.gserviceaccount.com"
	UserEmail           = "alice@example.com"
)

// IAMEndpointEnv is the environment variable through which mcp-cloudrun-proxy finds the IAM
// Credentials API for --impersonate-service-account.
const IAMEndpointEnv = "MCP_CLOUDRUN_PROXY_IAM_ENDPOINT"

// GcloudConfigFile is the file, inside CLOUDSDK_CONFIG, from which the fakegcloud command reads
// its state; see [GcloudConfig].
const GcloudConfigFile = "fakegcloud.json"

// SetupOptions tune [Server.Setup].
type SetupOptions struct {
	// GcloudDir is a directory holding the fakegcloud binary named "gcloud". It is put first
	// on PATH for every kind (so that a stray gcloud call is answered by the fake), and is
	// required for the gcloud kinds.
	GcloudDir string
}

// A Setup is a hermetic environment for one process: a temporary HOME and CLOUDSDK_CONFIG, the
// credential files of one [Kind] and the variables that find them.
type Setup struct {
	Kind Kind
	// Home is HOME; CloudSDKConfig is CLOUDSDK_CONFIG (HOME/.config/gcloud).
	Home, CloudSDKConfig string
	// Env is the complete environment, KEY=VALUE, to give the process (nothing inherited).
	Env []string
	// Args are extra flags the proxy needs for this kind (--token-source, --impersonate-...).
	Args []string
	// Principal is the email the ID tokens will carry.
	Principal string
	// Audience is the aud the ID tokens will carry when it is not the requested one (the
	// OAuth client id for user credentials); empty when the requested audience is used.
	Audience string
	// Files are the credential files written.
	Files []string
}

// Setup writes the files of kind under dir (which must exist, e.g. t.TempDir()) and returns the
// environment that uses them.
func (s *Server) Setup(kind Kind, dir string, opts SetupOptions) (*Setup, error) {
	home := filepath.Join(dir, "home")
	cfg := filepath.Join(home, ".config", "gcloud")
	if err := os.MkdirAll(cfg, 0o700); err != nil {
		return nil, fmt.Errorf("create temp HOME: %w", err)
	}
	path := "/usr/bin:/bin"
	if opts.GcloudDir != "" {
		path = opts.GcloudDir + ":" + path
	}
	su := &Setup{Kind: kind, Home: home, CloudSDKConfig: cfg}
	env := map[string]string{
		"HOME":            home,
		"CLOUDSDK_CONFIG": cfg,
		"PATH":            path,
		"TMPDIR":          os.TempDir(),
		// Never let a library probe the real metadata address (169.254.169.254); the
		// Metadata kind sets GCE_METADATA_HOST, which wins over this.
		"NO_GCE_CHECK": "true",
	}
	// Write the gcloud state for every kind: logged out unless a gcloud kind logs it in.
	gc := GcloudConfig{TokenURI: s.TokenURL(), IAMEndpoint: s.URL()}
	var err error
	switch kind {
	case ServiceAccountKey:
		su.Principal = ServiceAccountEmail
		var f string
		if f, err = s.WriteServiceAccountKey(dir, ServiceAccountEmail); err == nil {
			env["GOOGLE_APPLICATION_CREDENTIALS"] = f
			su.Files = append(su.Files, f)
		}
	case Metadata:
		su.Principal = s.opts.MetadataEmail
		env["GCE_METADATA_HOST"] = s.MetadataHost()
	case AuthorizedUser, AuthorizedUserWellKnown:
		su.Principal, su.Audience = UserEmail, ADCClientID
		f := filepath.Join(dir, "authorized_user.json")
		if kind == AuthorizedUserWellKnown {
			f = filepath.Join(cfg, "application_default_credentials.json")
		} else {
			env["GOOGLE_APPLICATION_CREDENTIALS"] = f
		}
		if err = s.WriteAuthorizedUser(f, UserEmail); err == nil {
			su.Files = append(su.Files, f)
		}
	case ImpersonatedADC:
		su.Principal = TargetEmail
		f := filepath.Join(dir, "impersonated.json")
		if err = s.WriteImpersonated(f, TargetEmail, UserEmail); err == nil {
			env["GOOGLE_APPLICATION_CREDENTIALS"] = f
			env[IAMEndpointEnv] = s.URL()
			su.Files = append(su.Files, f)
		}
	case ImpersonateFlag:
		su.Principal = TargetEmail
		var f string
		if f, err = s.WriteServiceAccountKey(dir, ServiceAccountEmail); err == nil {
			env["GOOGLE_APPLICATION_CREDENTIALS"] = f
			env[IAMEndpointEnv] = s.URL()
			su.Files = append(su.Files, f)
			su.Args = []string{"--impersonate-service-account", TargetEmail}
		}
	case Gcloud:
		if opts.GcloudDir == "" {
			return nil, fmt.Errorf("setup %s: SetupOptions.GcloudDir is required", kind)
		}
		su.Principal, su.Audience = UserEmail, GcloudClientID
		su.Args = []string{"--token-source", "gcloud"}
		gc.Account, gc.AccountType = UserEmail, "authorized_user"
		gc.ClientID, gc.ClientSecret = GcloudClientID, "fake-gcloud-secret"
		gc.RefreshToken = s.RegisterRefreshToken(GcloudClientID, gc.ClientSecret, UserEmail)
	case GcloudServiceAccount:
		if opts.GcloudDir == "" {
			return nil, fmt.Errorf("setup %s: SetupOptions.GcloudDir is required", kind)
		}
		su.Principal = ServiceAccountEmail
		su.Args = []string{"--token-source", "gcloud"}
		var f string
		if f, err = s.WriteServiceAccountKey(dir, ServiceAccountEmail); err == nil {
			gc.Account, gc.AccountType, gc.KeyFile = ServiceAccountEmail, "service_account", f
			su.Files = append(su.Files, f)
		}
	default:
		return nil, fmt.Errorf("unknown credential kind %q", kind)
	}
	if err != nil {
		return nil, fmt.Errorf("setup %s: %w", kind, err)
	}
	if err := WriteGcloudConfig(cfg, gc); err != nil {
		return nil, fmt.Errorf("setup %s: %w", kind, err)
	}
	su.Files = append(su.Files, filepath.Join(cfg, GcloudConfigFile))
	for k, v := range env {
		su.Env = append(su.Env, k+"="+v)
	}
	return su, nil
}

// WriteServiceAccountKey registers a service account (one RSA key per email and Server) and
// writes its JSON key file, with token_uri pointing at the fake, into dir. It returns the path.
func (s *Server) WriteServiceAccountKey(dir, email string) (string, error) {
	s.mu.Lock()
	key := s.saKeyCache[email]
	s.mu.Unlock()
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return "", fmt.Errorf("generate key for %s: %w", email, err)
		}
		s.mu.Lock()
		s.saKeyCache[email] = key
		s.saKeys[email] = &key.PublicKey
		s.mu.Unlock()
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("encode key for %s: %w", email, err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	project := projectOf(email)
	f := map[string]string{
		"type":                        "service_account",
		"project_id":                  project,
		"private_key_id":              randomHex(20),
		"private_key":                 string(pemKey),
		"client_email":                email,
		"client_id":                   SubjectOf(email),
		"auth_uri":                    s.apiURL + "/o/oauth2/auth",
		"token_uri":                   s.TokenURL(),
		"auth_provider_x509_cert_url": s.JWKSURL(),
		"universe_domain":             "googleapis.com",
	}
	path := filepath.Join(dir, strings.SplitN(email, "@", 2)[0]+"-key.json")
	return path, writeJSONFile(path, f)
}

// RegisterRefreshToken makes a new refresh token for email under the OAuth client clientID.
func (s *Server) RegisterRefreshToken(clientID, clientSecret, email string) string {
	rt := "1//fake-refresh-" + randomHex(16)
	s.mu.Lock()
	s.refreshTokens[rt] = refreshGrant{clientID: clientID, clientSecret: clientSecret, email: email}
	s.mu.Unlock()
	return rt
}

func (s *Server) authorizedUser(email string) map[string]string {
	const secret = "fake-adc-client-secret"
	return map[string]string{
		"type":            "authorized_user",
		"client_id":       ADCClientID,
		"client_secret":   secret,
		"refresh_token":   s.RegisterRefreshToken(ADCClientID, secret, email),
		"token_uri":       s.TokenURL(),
		"universe_domain": "googleapis.com",
	}
}

// WriteAuthorizedUser writes an authorized_user ADC file for email to path.
func (s *Server) WriteAuthorizedUser(path, email string) error {
	return writeJSONFile(path, s.authorizedUser(email))
}

// WriteImpersonated writes an impersonated_service_account ADC file to path: the user
// sourceEmail impersonates target through the fake's IAM Credentials endpoint.
func (s *Server) WriteImpersonated(path, target, sourceEmail string) error {
	return writeJSONFile(path, map[string]any{
		"type":                              "impersonated_service_account",
		"service_account_impersonation_url": s.apiURL + "/v1/projects/-/serviceAccounts/" + target + ":generateAccessToken",
		"source_credentials":                s.authorizedUser(sourceEmail),
		"delegates":                         []string{},
	})
}

// A GcloudConfig is the state of the fakegcloud command, stored as JSON in
// $CLOUDSDK_CONFIG/fakegcloud.json. An empty Account means logged out.
type GcloudConfig struct {
	TokenURI    string `json:"token_uri"`
	IAMEndpoint string `json:"iam_endpoint"`
	Account     string `json:"account,omitempty"`
	// AccountType is "authorized_user" or "service_account".
	AccountType  string `json:"account_type,omitempty"`
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	KeyFile      string `json:"key_file,omitempty"`
	// DelayMillis slows every token command down, as the real gcloud (about 1 s) is.
	DelayMillis int `json:"delay_ms,omitempty"`
}

// WriteGcloudConfig writes c to dir/fakegcloud.json.
func WriteGcloudConfig(dir string, c GcloudConfig) error {
	return writeJSONFile(filepath.Join(dir, GcloudConfigFile), c)
}

// ReadGcloudConfig reads dir/fakegcloud.json.
func ReadGcloudConfig(dir string) (GcloudConfig, error) {
	var c GcloudConfig
	b, err := os.ReadFile(filepath.Join(dir, GcloudConfigFile))
	if err != nil {
		return c, fmt.Errorf("read fakegcloud config: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("parse %s: %w", filepath.Join(dir, GcloudConfigFile), err)
	}
	return c, nil
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write credential file: %w", err)
	}
	return nil
}

func projectOf(email string) string {
	_, domain, _ := strings.Cut(email, "@")
	project, _, _ := strings.Cut(domain, ".")
	return project
}
