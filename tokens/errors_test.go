package tokens

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestErrorsNameTheFix checks that every way of having no usable credential gives an error
// that says what to run, and never carries a secret.
func TestErrorsNameTheFix(t *testing.T) {
	tests := []struct {
		desc        string
		setup       func(te *testEnv) Options
		atFetch     bool     // the error comes from the first Fetch, not NewProvider
		want        []string // substrings of the error
		wantNoCreds bool     // errors.Is(err, ErrNoCredentials)
	}{
		{
			desc:        "no credentials at all (google-auth)",
			setup:       func(te *testEnv) Options { o := te.options(); o.Source = SourceGoogleAuth; return o },
			want:        []string{"gcloud auth application-default login", "GOOGLE_APPLICATION_CREDENTIALS", "application_default_credentials.json"},
			wantNoCreds: true,
		},
		{
			desc:        "no credentials at all (auto)",
			setup:       func(te *testEnv) Options { return te.options() },
			want:        []string{"gcloud auth application-default login", "GOOGLE_APPLICATION_CREDENTIALS", "gcloud auth login"},
			wantNoCreds: true,
		},
		{
			desc: "GOOGLE_APPLICATION_CREDENTIALS names a missing file",
			setup: func(te *testEnv) Options {
				te.set("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(te.home, "nope.json"))
				o := te.options()
				o.Source = SourceGoogleAuth
				return o
			},
			want: []string{"GOOGLE_APPLICATION_CREDENTIALS=", "nope.json", "unset it"},
		},
		{
			desc: "malformed key file: not JSON",
			setup: func(te *testEnv) Options {
				p := te.writeFile(filepath.Join(te.home, "key.json"), []byte(`{"type": "service_account", "private_key": "-----BEGIN`))
				te.set("GOOGLE_APPLICATION_CREDENTIALS", p)
				o := te.options()
				o.Source = SourceGoogleAuth
				return o
			},
			want: []string{"key.json", "malformed JSON", "gcloud auth application-default login"},
		},
		{
			desc: "malformed key file: private key is garbage",
			setup: func(te *testEnv) Options {
				k := te.serviceAccountKey()
				k["private_key"] = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"
				te.useADC(k)
				o := te.options()
				o.Source = SourceGoogleAuth
				return o
			},
			want: []string{"adc.json", "malformed service_account key", "gcloud iam service-accounts keys create"},
		},
		{
			desc: "malformed key file: missing client_email",
			setup: func(te *testEnv) Options {
				k := te.serviceAccountKey()
				delete(k, "client_email")
				te.useADC(k)
				o := te.options()
				o.Source = SourceGoogleAuth
				return o
			},
			want: []string{"missing client_email"},
		},
		{
			desc: "gcloud not installed",
			setup: func(te *testEnv) Options {
				o := te.options()
				o.Source = SourceGcloud
				return o
			},
			want: []string{"gcloud not found on PATH", "install the Google Cloud SDK", "--token-source google-auth"},
		},
		{
			desc: "gcloud logged out",
			setup: func(te *testEnv) Options {
				te.installGcloud("")
				o := te.options()
				o.Source = SourceGcloud
				return o
			},
			want: []string{"gcloud auth login"},
		},
		{
			desc: "gcloud login expired at fetch time; stderr kept, token-like text redacted",
			setup: func(te *testEnv) Options {
				g := te.installGcloud(testUserEmail)
				g.failWith("ERROR: (gcloud.auth.print-identity-token) There was a problem refreshing your current auth tokens: Reauthentication failed. cannot prompt during non-interactive execution. token=ya29.leaked-secret\nPlease run:\n\n  $ gcloud auth login\n")
				te.fg.remember("ya29.leaked-secret")
				o := te.options()
				o.Source = SourceGcloud
				return o
			},
			atFetch: true,
			want:    []string{"gcloud auth login", "Reauthentication failed", "[redacted]"},
		},
		{
			desc: "gcloud hangs",
			setup: func(te *testEnv) Options {
				g := te.installGcloud(testUserEmail)
				te.writeFile(filepath.Join(g.cfg, "hang"), nil)
				o := te.options()
				o.Source = SourceGcloud
				o.gcloudTimeout = 300 * time.Millisecond
				return o
			},
			atFetch: true,
			want:    []string{"gcloud auth print-identity-token did not finish within 300ms"},
		},
		{
			desc: "authorized_user refresh token revoked",
			setup: func(te *testEnv) Options {
				u := te.authorizedUser()
				u["refresh_token"] = "1//revoked"
				te.fg.remember("1//revoked")
				te.useWellKnownADC(u)
				o := te.options()
				o.Source = SourceGoogleAuth
				return o
			},
			atFetch: true,
			want:    []string{"google-auth (authorized_user", "HTTP 400", "invalid_grant", "gcloud auth application-default login"},
		},
		{
			desc: "impersonation denied",
			setup: func(te *testEnv) Options {
				te.useWellKnownADC(te.authorizedUser())
				te.set(envIAMEndpoint, te.fg.srv.URL)
				te.fg.denyIAM = true
				o := te.options()
				o.Source = SourceGoogleAuth
				o.ImpersonateServiceAccount = testTargetEmail
				return o
			},
			atFetch: true,
			want:    []string{"HTTP 403", "roles/iam.serviceAccountTokenCreator", testTargetEmail},
		},
		{
			desc: "external_account without impersonation URL",
			setup: func(te *testEnv) Options {
				te.useADC(map[string]any{
					"type": "external_account", "audience": "//iam.googleapis.com/x",
					"subject_token_type": "urn:ietf:params:oauth:token-type:jwt", "token_url": te.fg.srv.URL + "/sts",
					"credential_source": map[string]any{"file": filepath.Join(te.home, "subject")},
				})
				o := te.options()
				o.Source = SourceGoogleAuth
				return o
			},
			want: []string{"--impersonate-service-account"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			te := newTestEnv(t)
			opts := tc.setup(te)
			p, err := NewProvider(context.Background(), opts)
			if tc.atFetch {
				if err != nil {
					t.Fatalf("NewProvider: %v", err)
				}
				_, err = p.Fetch(context.Background())
			}
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
			if got := errors.Is(err, ErrNoCredentials); got != tc.wantNoCreds {
				t.Errorf("errors.Is(err, ErrNoCredentials) = %v, want %v", got, tc.wantNoCreds)
			}
			te.assertNoSecrets(msg, "error")
		})
	}
}
