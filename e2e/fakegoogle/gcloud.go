package fakegoogle

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrLoggedOut is returned by the [GcloudConfig] methods when no account is active.
var ErrLoggedOut = errors.New("no active account")

// Transport returns a RoundTripper that adds a fresh ID token for audience to every request,
// as the proxy does: what a direct client measured or compared against the proxy uses.
func (c GcloudConfig) Transport(audience string) http.RoundTripper {
	return idTokenTransport{cfg: c, aud: audience}
}

type idTokenTransport struct {
	cfg GcloudConfig
	aud string
}

func (t idTokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	tok, err := t.cfg.IdentityToken(r.Context(), http.DefaultClient, t.aud, "")
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	return http.DefaultTransport.RoundTrip(r)
}

// IdentityToken obtains an ID token the way gcloud does for the active account: user accounts
// get aud = the OAuth client id, service accounts get audience (gcloud's client id when
// empty), and impersonate mints for that service account through IAM Credentials.
func (c GcloudConfig) IdentityToken(ctx context.Context, hc *http.Client, audience, impersonate string) (string, error) {
	if c.Account == "" {
		return "", ErrLoggedOut
	}
	if audience == "" {
		audience = GcloudClientID
	}
	if impersonate != "" {
		at, err := c.AccessToken(ctx, hc)
		if err != nil {
			return "", err
		}
		body, _ := json.Marshal(map[string]any{"audience": audience, "includeEmail": true})
		u := strings.TrimSuffix(c.IAMEndpoint, "/") + "/v1/projects/-/serviceAccounts/" + url.PathEscape(impersonate) + ":generateIdToken"
		var out struct {
			Token string `json:"token"`
		}
		if err := postJSON(ctx, hc, u, at, body, &out); err != nil {
			return "", err
		}
		return out.Token, nil
	}
	switch c.AccountType {
	case "service_account":
		return c.jwtBearer(ctx, hc, map[string]any{"target_audience": audience}, "id_token")
	default:
		return c.refresh(ctx, hc, "id_token")
	}
}

// ImpersonatedAccessToken obtains an access token for target through IAM Credentials
// generateAccessToken, as `gcloud auth print-access-token --impersonate-service-account` does.
func (c GcloudConfig) ImpersonatedAccessToken(ctx context.Context, hc *http.Client, target string) (string, error) {
	at, err := c.AccessToken(ctx, hc)
	if err != nil {
		return "", err
	}
	body, _ := json.Marshal(map[string]any{"scope": []string{"https://www.googleapis.com/auth/cloud-platform"}})
	u := strings.TrimSuffix(c.IAMEndpoint, "/") + "/v1/projects/-/serviceAccounts/" + url.PathEscape(target) + ":generateAccessToken"
	var out struct {
		AccessToken string `json:"accessToken"`
	}
	if err := postJSON(ctx, hc, u, at, body, &out); err != nil {
		return "", err
	}
	return out.AccessToken, nil
}

// AccessToken obtains an OAuth access token for the active account.
func (c GcloudConfig) AccessToken(ctx context.Context, hc *http.Client) (string, error) {
	if c.Account == "" {
		return "", ErrLoggedOut
	}
	if c.AccountType == "service_account" {
		return c.jwtBearer(ctx, hc, map[string]any{"scope": "https://www.googleapis.com/auth/cloud-platform"}, "access_token")
	}
	return c.refresh(ctx, hc, "access_token")
}

func (c GcloudConfig) refresh(ctx context.Context, hc *http.Client, field string) (string, error) {
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {c.RefreshToken},
		"client_id":     {c.ClientID},
		"client_secret": {c.ClientSecret},
	}
	return postForm(ctx, hc, c.TokenURI, form, field)
}

func (c GcloudConfig) jwtBearer(ctx context.Context, hc *http.Client, extra map[string]any, field string) (string, error) {
	b, err := os.ReadFile(c.KeyFile)
	if err != nil {
		return "", fmt.Errorf("read service account key: %w", err)
	}
	var kf struct {
		PrivateKey  string `json:"private_key"`
		ClientEmail string `json:"client_email"`
		TokenURI    string `json:"token_uri"`
	}
	if err := json.Unmarshal(b, &kf); err != nil {
		return "", fmt.Errorf("parse service account key: %w", err)
	}
	block, _ := pem.Decode([]byte(kf.PrivateKey))
	if block == nil {
		return "", errors.New("service account key: no PEM private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("service account key: %w", err)
	}
	key, ok := k.(*rsa.PrivateKey)
	if !ok {
		return "", errors.New("service account key: not RSA")
	}
	now := time.Now()
	claims := jwt.MapClaims{"iss": kf.ClientEmail, "aud": kf.TokenURI, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range extra {
		claims[k] = v
	}
	assertion, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign assertion: %w", err)
	}
	form := url.Values{"grant_type": {jwtBearerGrant}, "assertion": {assertion}}
	return postForm(ctx, hc, kf.TokenURI, form, field)
}

func postForm(ctx context.Context, hc *http.Client, u string, form url.Values, field string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var out map[string]any
	if err := do(hc, req, &out); err != nil {
		return "", err
	}
	v, _ := out[field].(string)
	if v == "" {
		return "", fmt.Errorf("token response has no %s", field)
	}
	return v, nil
}

func postJSON(ctx context.Context, hc *http.Client, u, bearer string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("IAM request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	return do(hc, req, out)
}

func do(hc *http.Client, req *http.Request, out any) error {
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: HTTP %d: %s", req.Method, req.URL.Path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode: %w", req.Method, req.URL.Path, err)
	}
	return nil
}
