package tokens

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// httpError is a non-2xx answer from a Google endpoint. Its message carries the status and a
// redacted excerpt of the body, never a credential.
type httpError struct {
	what   string // e.g. "token endpoint https://oauth2.googleapis.com/token"
	status int
	body   string // already redacted
}

func (e *httpError) Error() string {
	if e.body == "" {
		return fmt.Sprintf("%s answered HTTP %d", e.what, e.status)
	}
	return fmt.Sprintf("%s answered HTTP %d: %s", e.what, e.status, e.body)
}

// doJSON sends req and decodes a 2xx JSON answer into out.
func doJSON(client *http.Client, req *http.Request, what string, out any) error {
	resp, err := client.Do(req)
	if err != nil {
		// url.Error quotes the URL, which never carries a credential here.
		return fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: reading answer: %w", what, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &httpError{what: what, status: resp.StatusCode, body: redactSecrets(string(body))}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s: answer is not the expected JSON (%s)", what, jsonErrSummary(err))
	}
	return nil
}

// oauthTokenResponse is the token endpoint's answer.
type oauthTokenResponse struct {
	AccessToken string `json:"access_token"`
	IDToken     string `json:"id_token"`
	ExpiresIn   int64  `json:"expires_in"`
}

// refreshGrant exchanges an authorized_user refresh token at tokenURL.
func refreshGrant(ctx context.Context, client *http.Client, f *credFile) (oauthTokenResponse, error) {
	tokenURL := tokenURIOr(f.TokenURI)
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {f.ClientID},
		"client_secret": {f.ClientSecret},
		"refresh_token": {f.RefreshToken},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return oauthTokenResponse{}, fmt.Errorf("token endpoint %s: %w", tokenURL, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var out oauthTokenResponse
	if err := doJSON(client, req, "token endpoint "+tokenURL, &out); err != nil {
		return out, err
	}
	return out, nil
}

// generateIDToken calls IAM Credentials generateIdToken for email, authenticated with the
// source credentials' access token.
func generateIDToken(ctx context.Context, client *http.Client, base, email, audience string, delegates []string, accessToken string) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	body := map[string]any{"audience": audience, "includeEmail": true}
	if err := iamCredentials(ctx, client, base, email, "generateIdToken", body, delegates, accessToken, &out); err != nil {
		return "", err
	}
	if out.Token == "" {
		return "", fmt.Errorf("IAM Credentials generateIdToken for %s returned no token", email)
	}
	return out.Token, nil
}

// generateAccessToken calls IAM Credentials generateAccessToken (cloud-platform scope) for
// email with the caller's accessToken.
func generateAccessToken(ctx context.Context, client *http.Client, base, email string, delegates []string, accessToken string) (string, error) {
	var out struct {
		AccessToken string `json:"accessToken"`
	}
	body := map[string]any{"scope": []string{cloudPlatformScope}}
	if err := iamCredentials(ctx, client, base, email, "generateAccessToken", body, delegates, accessToken, &out); err != nil {
		return "", err
	}
	if out.AccessToken == "" {
		return "", fmt.Errorf("IAM Credentials generateAccessToken for %s returned no access token", email)
	}
	return out.AccessToken, nil
}

// iamCredentials POSTs body (plus delegates) to method of the IAM Credentials API for email.
func iamCredentials(ctx context.Context, client *http.Client, base, email, method string, body map[string]any, delegates []string, accessToken string, out any) error {
	endpoint := strings.TrimRight(base, "/") + "/v1/projects/-/serviceAccounts/" + url.PathEscape(email) + ":" + method
	if len(delegates) > 0 {
		ds := make([]string, len(delegates))
		for i, d := range delegates {
			if !strings.HasPrefix(d, "projects/") {
				d = "projects/-/serviceAccounts/" + d
			}
			ds[i] = d
		}
		body["delegates"] = ds
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("IAM Credentials %s: %w", endpoint, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+accessToken)
	if err := doJSON(client, req, "IAM Credentials "+method+" for "+email, out); err != nil {
		if he, ok := err.(*httpError); ok && (he.status == http.StatusForbidden || he.status == http.StatusUnauthorized) {
			return fmt.Errorf("%w; grant the caller roles/iam.serviceAccountTokenCreator on %s and enable the IAM Service Account Credentials API", err, email)
		}
		return err
	}
	return nil
}
