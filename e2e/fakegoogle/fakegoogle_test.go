package fakegoogle_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakegoogle"
)

func newServer(t *testing.T) *fakegoogle.Server {
	t.Helper()
	g, err := fakegoogle.New(fakegoogle.Options{TokenLifetime: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

func claimsOf(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIdentityTokensPerAccountType(t *testing.T) {
	g := newServer(t)
	ctx := context.Background()
	hc := &http.Client{Timeout: 10 * time.Second}
	dir := t.TempDir()
	key, err := g.WriteServiceAccountKey(dir, fakegoogle.ServiceAccountEmail)
	if err != nil {
		t.Fatal(err)
	}
	base := fakegoogle.GcloudConfig{TokenURI: g.TokenURL(), IAMEndpoint: g.URL()}
	sa := base
	sa.Account, sa.AccountType, sa.KeyFile = fakegoogle.ServiceAccountEmail, "service_account", key
	user := base
	user.Account, user.AccountType, user.ClientID, user.ClientSecret = fakegoogle.UserEmail, "authorized_user", fakegoogle.GcloudClientID, "s"
	user.RefreshToken = g.RegisterRefreshToken(fakegoogle.GcloudClientID, "s", fakegoogle.UserEmail)

	tests := []struct {
		desc       string
		cfg        fakegoogle.GcloudConfig
		aud, imp   string
		wantAud    string
		wantEmail  string
		wantRoute  string
		wantRouteN int
	}{
		{"service account jwt-bearer", sa, "https://svc.run.app", "", "https://svc.run.app", fakegoogle.ServiceAccountEmail, fakegoogle.RouteJWTBearerIDToken, 1},
		{"user refresh token", user, "", "", fakegoogle.GcloudClientID, fakegoogle.UserEmail, fakegoogle.RouteRefreshToken, 2},
		{"impersonation", user, "https://svc.run.app", fakegoogle.TargetEmail, "https://svc.run.app", fakegoogle.TargetEmail, fakegoogle.RouteGenerateIDToken, 1},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			before := g.TokensIssued()[tc.wantRoute]
			tok, err := tc.cfg.IdentityToken(ctx, hc, tc.aud, tc.imp)
			if err != nil {
				t.Fatal(err)
			}
			c := claimsOf(t, tok)
			got := map[string]any{"iss": c["iss"], "aud": c["aud"], "email": c["email"], "email_verified": c["email_verified"]}
			want := map[string]any{"iss": fakegoogle.Issuer, "aud": tc.wantAud, "email": tc.wantEmail, "email_verified": true}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
			if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != 30 {
				t.Errorf("exp-iat = %v, want 30", exp-iat)
			}
			if n := g.TokensIssued()[tc.wantRoute] - before; n != tc.wantRouteN {
				t.Errorf("tokens issued on %s = %d, want %d", tc.wantRoute, n, tc.wantRouteN)
			}
			if !g.WasIssued(tok) || g.IsRevoked(tok) {
				t.Errorf("WasIssued/IsRevoked = %v/%v, want true/false", g.WasIssued(tok), g.IsRevoked(tok))
			}
			g.RevokeAll()
			if !g.IsRevoked(tok) {
				t.Error("token not revoked after RevokeAll")
			}
		})
	}
}

func TestRejectsBadGrants(t *testing.T) {
	g := newServer(t)
	ctx := context.Background()
	hc := &http.Client{Timeout: 10 * time.Second}
	user := fakegoogle.GcloudConfig{TokenURI: g.TokenURL(), IAMEndpoint: g.URL(), Account: "x@example.com", ClientID: "c", ClientSecret: "s", RefreshToken: "unknown"}
	if _, err := user.IdentityToken(ctx, hc, "", ""); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("unknown refresh token: err = %v, want invalid_grant", err)
	}
	req, _ := http.NewRequest(http.MethodPost, g.URL()+"/v1/projects/-/serviceAccounts/"+fakegoogle.TargetEmail+":generateIdToken", strings.NewReader(`{"audience":"a"}`))
	req.Header.Set("Authorization", "Bearer not-issued")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("generateIdToken with a foreign token: status %d, want 401", resp.StatusCode)
	}
	if _, err := (fakegoogle.GcloudConfig{}).IdentityToken(ctx, hc, "", ""); err != fakegoogle.ErrLoggedOut {
		t.Errorf("logged out: err = %v, want ErrLoggedOut", err)
	}
}

func TestMetadataServer(t *testing.T) {
	g := newServer(t)
	base := "http://" + g.MetadataHost()
	tests := []struct {
		desc, path string
		flavor     bool
		wantStatus int
	}{
		{"probe", "/", false, 200},
		{"identity without header", "/computeMetadata/v1/instance/service-accounts/default/identity?audience=a", false, 403},
		{"identity", "/computeMetadata/v1/instance/service-accounts/default/identity?audience=a&format=full", true, 200},
		{"identity without audience", "/computeMetadata/v1/instance/service-accounts/default/identity", true, 400},
		{"token", "/computeMetadata/v1/instance/service-accounts/default/token", true, 200},
		{"email", "/computeMetadata/v1/instance/service-accounts/default/email", true, 200},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, base+tc.path, nil)
			if tc.flavor {
				req.Header.Set("Metadata-Flavor", "Google")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if resp.Header.Get("Metadata-Flavor") != "Google" {
				t.Errorf("Metadata-Flavor header = %q, want Google", resp.Header.Get("Metadata-Flavor"))
			}
			if tc.desc == "identity" {
				c := claimsOf(t, string(body))
				if c["aud"] != "a" || c["email"] != g.MetadataEmail() {
					t.Errorf("claims aud=%v email=%v, want a and %s", c["aud"], c["email"], g.MetadataEmail())
				}
			}
		})
	}
}

func TestSetupWritesEveryKind(t *testing.T) {
	g := newServer(t)
	for _, kind := range append(fakegoogle.AllKinds, fakegoogle.AuthorizedUserWellKnown, fakegoogle.GcloudServiceAccount) {
		t.Run(string(kind), func(t *testing.T) {
			su, err := g.Setup(kind, t.TempDir(), fakegoogle.SetupOptions{GcloudDir: "/nonexistent"})
			if err != nil {
				t.Fatal(err)
			}
			env := strings.Join(su.Env, "\n")
			for _, want := range []string{"HOME=", "CLOUDSDK_CONFIG=", "PATH=/nonexistent:"} {
				if !strings.Contains(env, want) {
					t.Errorf("env lacks %q", want)
				}
			}
			if su.Principal == "" {
				t.Error("no principal")
			}
		})
	}
}

func TestRevokeFutureTokens(t *testing.T) {
	g := newServer(t)
	hc := &http.Client{Timeout: 10 * time.Second}
	user := fakegoogle.GcloudConfig{TokenURI: g.TokenURL(), IAMEndpoint: g.URL(), Account: fakegoogle.UserEmail, ClientID: "c", ClientSecret: "s"}
	user.RefreshToken = g.RegisterRefreshToken("c", "s", fakegoogle.UserEmail)
	get := func() string {
		tok, err := user.IdentityToken(context.Background(), hc, "", "")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	g.RevokeFutureTokens(true)
	if tok := get(); !g.IsRevoked(tok) || !g.WasIssued(tok) {
		t.Error("a token issued while RevokeFutureTokens is on is not revoked")
	}
	g.RevokeFutureTokens(false)
	if tok := get(); g.IsRevoked(tok) {
		t.Error("a token issued after RevokeFutureTokens(false) is revoked")
	}
}
