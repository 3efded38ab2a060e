package tokens

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAccessSource: the Admin API access token comes from the same credentials as the ID
// tokens, as the same principal: impersonation goes through generateAccessToken with the
// cloud-platform scope, never the source's own token.
func TestAccessSource(t *testing.T) {
	for _, tc := range []struct {
		desc      string
		setup     func(te *testEnv) Options
		kind      string // what the fake issued the bearer as
		principal string
		iam       []iamCall
	}{
		{desc: "service account key", kind: "sa", principal: testSAEmail, setup: func(te *testEnv) Options {
			te.useADC(te.serviceAccountKey())
			return te.options()
		}},
		{desc: "authorized_user", kind: "user", setup: func(te *testEnv) Options {
			te.useADC(te.authorizedUser())
			o := te.options()
			o.Source = SourceGoogleAuth
			return o
		}},
		{desc: "metadata server", kind: "metadata", principal: testMetadataEmail, setup: func(te *testEnv) Options {
			te.useMetadata()
			return te.options()
		}},
		{desc: "--impersonate-service-account", kind: "impersonated:" + testTargetEmail, principal: testTargetEmail,
			iam: []iamCall{{Email: testTargetEmail, BearerKind: "sa", Scope: []string{cloudPlatformScope}}},
			setup: func(te *testEnv) Options {
				te.useADC(te.serviceAccountKey())
				te.set(envIAMEndpoint, te.fg.srv.URL)
				o := te.options()
				o.ImpersonateServiceAccount = testTargetEmail
				return o
			}},
		{desc: "impersonated_service_account file", kind: "impersonated:" + testTargetEmail, principal: testTargetEmail,
			iam: []iamCall{{Email: testTargetEmail, BearerKind: "user", Scope: []string{cloudPlatformScope}}},
			setup: func(te *testEnv) Options {
				te.useADC(map[string]any{
					"type":                              "impersonated_service_account",
					"service_account_impersonation_url": te.impersonationURL(testTargetEmail, "generateAccessToken"),
					"source_credentials":                te.authorizedUser(),
					"delegates":                         []string{},
				})
				return te.options()
			}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			te := newTestEnv(t)
			src, err := NewAccessSource(context.Background(), tc.setup(te))
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodGet, "https://run.example/v2", nil)
			if err := src.Authorize(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			bearer, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
			te.fg.mu.Lock()
			kind := te.fg.issued[bearer]
			te.fg.mu.Unlock()
			if !ok || kind != tc.kind {
				t.Errorf("Authorization carries a token issued as %q, want %q", kind, tc.kind)
			}
			if src.Principal() != tc.principal {
				t.Errorf("Principal() = %q, want %q", src.Principal(), tc.principal)
			}
			if diff := cmp.Diff(tc.iam, te.fg.iamLog()); diff != "" {
				t.Errorf("IAM Credentials calls (-want +got):\n%s", diff)
			}
		})
	}
}
