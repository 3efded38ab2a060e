package tokens

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Credential types, as found in the "type" field of ADC files, plus the two non-file kinds.
const (
	TypeServiceAccount             = "service_account"
	TypeAuthorizedUser             = "authorized_user"
	TypeImpersonatedServiceAccount = "impersonated_service_account"
	TypeExternalAccount            = "external_account"
	TypeMetadata                   = "metadata"
	TypeGcloud                     = "gcloud"
)

// fixADC is the remedy every "no credentials" error names.
const fixADC = "run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file"

// credFile is the union of the ADC file formats we read. Secret fields are never printed.
type credFile struct {
	Type string `json:"type"`

	// service_account
	ClientEmail  string `json:"client_email"`
	PrivateKey   string `json:"private_key"`
	PrivateKeyID string `json:"private_key_id"`
	TokenURI     string `json:"token_uri"`

	// authorized_user (token_uri shared)
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	RefreshToken string `json:"refresh_token"`

	// impersonated_service_account and external_account
	ServiceAccountImpersonationURL string          `json:"service_account_impersonation_url"`
	SourceCredentials              json.RawMessage `json:"source_credentials"`
	Delegates                      []string        `json:"delegates"`

	// raw is the file's bytes, for the libraries that parse it themselves.
	raw []byte
}

// adcLocation is where ADC resolution found (or did not find) a file.
type adcLocation struct {
	path string // "" when no file was found
	why  string // e.g. "GOOGLE_APPLICATION_CREDENTIALS" or "gcloud's well-known file"
	// looked lists the places checked, for the "no credentials" error.
	looked []string
}

// errNoADCFile means no ADC file exists; resolution goes on to the metadata server.
var errNoADCFile = errors.New("no ADC file")

// findADCFile resolves the ADC file as Google's libraries do: GOOGLE_APPLICATION_CREDENTIALS,
// then gcloud's well-known file ($CLOUDSDK_CONFIG, %APPDATA%\gcloud on Windows,
// $HOME/.config/gcloud elsewhere).
func findADCFile(e env) (adcLocation, error) {
	var loc adcLocation
	if p := e.getenv("GOOGLE_APPLICATION_CREDENTIALS"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return loc, fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS=%s: %w; point it at an existing key file or unset it", p, err)
		}
		loc.path, loc.why = p, "GOOGLE_APPLICATION_CREDENTIALS"
		return loc, nil
	}
	loc.looked = append(loc.looked, "GOOGLE_APPLICATION_CREDENTIALS (unset)")
	p := wellKnownFile(e)
	if p == "" {
		return loc, errNoADCFile
	}
	if _, err := os.Stat(p); err != nil {
		loc.looked = append(loc.looked, p+" (missing)")
		return loc, errNoADCFile
	}
	loc.path, loc.why = p, "gcloud's well-known ADC file"
	return loc, nil
}

func wellKnownFile(e env) string {
	const name = "application_default_credentials.json"
	if d := e.getenv("CLOUDSDK_CONFIG"); d != "" {
		return filepath.Join(d, name)
	}
	if runtime.GOOS == "windows" {
		if d := e.getenv("APPDATA"); d != "" {
			return filepath.Join(d, "gcloud", name)
		}
		return ""
	}
	if h := e.getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "gcloud", name)
	}
	return ""
}

// readCredFile reads and validates an ADC file. Errors name the file and the fix, never its
// secrets.
func readCredFile(path string) (*credFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading credentials file %s: %w", path, err)
	}
	f, err := parseCredJSON(b)
	if err != nil {
		return nil, fmt.Errorf("credentials file %s: %w", path, err)
	}
	return f, nil
}

func parseCredJSON(b []byte) (*credFile, error) {
	// Editors on Windows save UTF-8 with a byte order mark, which encoding/json (and the
	// libraries given raw) refuse; it carries no meaning in JSON, so it is dropped.
	b = bytes.TrimPrefix(b, []byte("\ufeff"))
	var f credFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("malformed JSON (%s): replace the file with a fresh key or run `gcloud auth application-default login`", jsonErrSummary(err))
	}
	f.raw = b
	if err := f.validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

// warnIfReadableByOthers logs one warning when the credentials file at path holds a secret
// and other users may read it, as ssh does for a private key. It is called once, when the
// provider is built.
func warnIfReadableByOthers(log *slog.Logger, path string, f *credFile) {
	if runtime.GOOS == "windows" || f.Type == TypeExternalAccount {
		// Windows guards files with ACLs, not mode bits (Go reports 0666 for any writable
		// file); an external_account file holds no secret, only where to get one.
		return
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o044 == 0 {
		return
	}
	log.Warn("credentials file is readable by other users; restrict it with chmod 600 "+path,
		"file", path, "mode", fmt.Sprintf("%#o", fi.Mode().Perm()))
}

// jsonErrSummary describes a JSON error without quoting the input.
func jsonErrSummary(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	}
	return "not a JSON object"
}

func (f *credFile) validate() error {
	missing := func(fields ...string) error {
		return fmt.Errorf("malformed %s credentials: missing %s; replace the file with a fresh one", f.Type, strings.Join(fields, ", "))
	}
	switch f.Type {
	case TypeServiceAccount:
		var m []string
		if f.ClientEmail == "" {
			m = append(m, "client_email")
		}
		if f.PrivateKey == "" {
			m = append(m, "private_key")
		}
		if len(m) > 0 {
			return missing(m...)
		}
		if err := checkPrivateKey(f.PrivateKey); err != nil {
			return fmt.Errorf("malformed service_account key: %w; create a new key with `gcloud iam service-accounts keys create`", err)
		}
	case TypeAuthorizedUser:
		var m []string
		if f.ClientID == "" {
			m = append(m, "client_id")
		}
		if f.RefreshToken == "" {
			m = append(m, "refresh_token")
		}
		if len(m) > 0 {
			return missing(m...)
		}
	case TypeImpersonatedServiceAccount:
		if f.ServiceAccountImpersonationURL == "" || len(f.SourceCredentials) == 0 {
			return missing("service_account_impersonation_url or source_credentials")
		}
		if _, _, err := parseImpersonationURL(f.ServiceAccountImpersonationURL); err != nil {
			return err
		}
		src, err := parseCredJSON(f.SourceCredentials)
		if err != nil {
			return fmt.Errorf("source_credentials: %w", err)
		}
		if src.Type == TypeImpersonatedServiceAccount {
			return errors.New("source_credentials must not themselves be impersonated; replace the file")
		}
	case TypeExternalAccount:
		if f.ServiceAccountImpersonationURL != "" {
			if _, _, err := parseImpersonationURL(f.ServiceAccountImpersonationURL); err != nil {
				return err
			}
		}
	case "":
		return errors.New(`no "type" field; this is not a Google credentials file`)
	default:
		return fmt.Errorf("credential type %q is not supported; use --token-source gcloud", f.Type)
	}
	return nil
}

func checkPrivateKey(pemKey string) error {
	block, _ := pem.Decode([]byte(pemKey))
	if block == nil {
		return errors.New("private_key is not PEM encoded")
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		return nil
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return nil
	}
	return errors.New("private_key is not a valid RSA private key")
}

// parseImpersonationURL splits
// https://HOST/v1/projects/-/serviceAccounts/EMAIL:generateAccessToken into the base URL
// (scheme://host) and EMAIL.
func parseImpersonationURL(raw string) (base, email string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", "", fmt.Errorf("service_account_impersonation_url %q is not an absolute URL; replace the file", raw)
	}
	last := u.Path[strings.LastIndex(u.Path, "/")+1:]
	email, _, _ = strings.Cut(last, ":")
	if email == "" || !strings.Contains(email, "@") {
		return "", "", fmt.Errorf("service_account_impersonation_url %q names no service account; replace the file", raw)
	}
	return u.Scheme + "://" + u.Host, email, nil
}

func tokenURIOr(uri string) string {
	if uri != "" {
		return uri
	}
	return defaultOAuthTokenURL
}
