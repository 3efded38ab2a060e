// Regression tests for bugs found in review; each failed before its fix.
package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/tokens"
)

func TestPlainHTTPOnlyForLoopbackAddresses(t *testing.T) {
	f := connectionFlags{URL: "http://127.attacker.example/mcp", TokenSource: "auto", LogLevel: "info"}
	if err := f.Validate(); err == nil {
		t.Errorf("--url http://127.attacker.example accepted as loopback: the ID token would go out in cleartext to a DNS name")
	}
}

func TestDefaultAudienceDropsTheDefaultPort(t *testing.T) {
	if got := defaultAudience("https://svc-123456789012.us-central1.run.app:443/mcp"); got != "https://svc-123456789012.us-central1.run.app" {
		t.Errorf("defaultAudience = %q; Cloud Run expects the service URL without :443", got)
	}
}

func TestForbiddenGrantCommandNamesTheProject(t *testing.T) {
	tok, err := tokens.ParseToken(fakeJWT(t, map[string]any{"aud": "https://hello-123456789012.us-central1.run.app", "email": "u@example.com", "exp": time.Now().Add(time.Hour).Unix()}))
	if err != nil {
		t.Fatal(err)
	}
	d := diagnosis{flags: &connectionFlags{URL: "https://hello-123456789012.us-central1.run.app/mcp"}, now: time.Now, token: tok, fetched: true}
	r := d.hints().Forbidden.Remedy
	if !strings.Contains(r, "--project") {
		t.Errorf("grant command has no --project (the URL names project 123456789012), so it acts on gcloud's default project: %s", r)
	}
}

type gcloudUserProvider struct{ raw string }

func (p gcloudUserProvider) Fetch(context.Context) (tokens.Token, error) {
	return tokens.ParseToken(p.raw)
}
func (p gcloudUserProvider) Describe() tokens.Description {
	return tokens.Description{Source: "gcloud", CredentialType: tokens.TypeGcloud, Principal: "u@example.com"}
}

func TestGcloudUserTokenIsNotPredictedToFail(t *testing.T) {
	raw := fakeJWT(t, map[string]any{"aud": "32555940559.apps.googleusercontent.com", "email": "u@example.com", "exp": time.Now().Add(time.Hour).Unix()})
	p := gcloudUserProvider{raw}
	d := diagnosis{flags: &connectionFlags{URL: "https://hello-123456789012.us-central1.run.app/mcp", TokenSource: "gcloud"}, now: time.Now, desc: p.Describe(), timeout: time.Second}
	st := d.fetch(context.Background(), p)
	if strings.Contains(st.Note, "will answer 401") {
		t.Errorf("step 3 predicts 401 for a gcloud user token, which Cloud Run documents as accepted (curl -H \"Authorization: Bearer $(gcloud auth print-identity-token)\"):\n  note: %s", st.Note)
	}
	if strings.Contains(st.Remedy, "--add-custom-audiences=32555940559") {
		t.Errorf("remedy tells the user to add gcloud's shared OAuth client id as a custom audience:\n  fix: %s", st.Remedy)
	}
}
