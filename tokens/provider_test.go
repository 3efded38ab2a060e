package tokens

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// got is what a user of a provider sees: which credential, and the token's claims.
type got struct {
	Desc     Description
	Audience string
	Email    string
}

func TestProviderSources(t *testing.T) {
	tests := []struct {
		desc  string
		setup func(te *testEnv) (Options, Description) // returns options and the expected description (file path filled by setup)
		want  got
		// wantIAM, when set, is the generateIdToken call the fake IAM must have received.
		wantIAM []iamCall
		// wantGcloudArgs is the print-identity-token invocation expected.
		wantGcloudArgs string
	}{
		{
			desc: "service_account key via GOOGLE_APPLICATION_CREDENTIALS",
			setup: func(te *testEnv) (Options, Description) {
				p := te.useADC(te.serviceAccountKey())
				o := te.options()
				o.Source = SourceGoogleAuth
				return o, Description{Source: "google-auth", CredentialType: "service_account", CredentialFile: p, Principal: testSAEmail, AudienceHonoured: true}
			},
			want: got{Audience: testAudience, Email: testSAEmail},
		},
		{
			desc: "metadata server via GCE_METADATA_HOST",
			setup: func(te *testEnv) (Options, Description) {
				te.useMetadata()
				o := te.options()
				o.Source = SourceGoogleAuth
				return o, Description{Source: "google-auth", CredentialType: "metadata", Principal: testMetadataEmail, AudienceHonoured: true}
			},
			want: got{Audience: testAudience, Email: testMetadataEmail},
		},
		{
			desc: "impersonated_service_account file with authorized_user source",
			setup: func(te *testEnv) (Options, Description) {
				p := te.useADC(map[string]any{
					"type":                              "impersonated_service_account",
					"service_account_impersonation_url": te.impersonationURL(testTargetEmail, "generateAccessToken"),
					"source_credentials":                te.authorizedUser(),
					"delegates":                         []string{},
				})
				o := te.options()
				o.Source = SourceGoogleAuth
				return o, Description{Source: "google-auth", CredentialType: "impersonated_service_account", CredentialFile: p, ImpersonationTarget: testTargetEmail, AudienceHonoured: true}
			},
			want:    got{Audience: testAudience, Email: testTargetEmail},
			wantIAM: []iamCall{{Email: testTargetEmail, Audience: testAudience, BearerKind: "user", IncludeEmail: true}},
		},
		{
			desc: "impersonated_service_account file with service_account source and a delegate",
			setup: func(te *testEnv) (Options, Description) {
				p := te.useADC(map[string]any{
					"type":                              "impersonated_service_account",
					"service_account_impersonation_url": te.impersonationURL(testTargetEmail, "generateAccessToken"),
					"source_credentials":                te.serviceAccountKey(),
					"delegates":                         []string{"middle@proj.iam.gserviceaccount.com"},
				})
				o := te.options()
				o.Source = SourceGoogleAuth
				return o, Description{Source: "google-auth", CredentialType: "impersonated_service_account", CredentialFile: p, Principal: testSAEmail, ImpersonationTarget: testTargetEmail, AudienceHonoured: true}
			},
			want: got{Audience: testAudience, Email: testTargetEmail},
			wantIAM: []iamCall{{Email: testTargetEmail, Audience: testAudience, BearerKind: "sa", IncludeEmail: true,
				Delegates: []string{"projects/-/serviceAccounts/middle@proj.iam.gserviceaccount.com"}}},
		},
		{
			desc: "authorized_user in gcloud's well-known file under HOME",
			setup: func(te *testEnv) (Options, Description) {
				p := te.useWellKnownADC(te.authorizedUser())
				o := te.options()
				o.Source = SourceGoogleAuth
				return o, Description{Source: "google-auth", CredentialType: "authorized_user", CredentialFile: p, Principal: testUserEmail, AudienceHonoured: false}
			},
			want: got{Audience: testUserClientID, Email: testUserEmail},
		},
		{
			desc: "authorized_user in $CLOUDSDK_CONFIG",
			setup: func(te *testEnv) (Options, Description) {
				dir := te.t.TempDir()
				te.set("CLOUDSDK_CONFIG", dir)
				p := te.writeFile(filepath.Join(dir, "application_default_credentials.json"), mustJSON(te.authorizedUser()))
				o := te.options()
				o.Source = SourceGoogleAuth
				return o, Description{Source: "google-auth", CredentialType: "authorized_user", CredentialFile: p, Principal: testUserEmail, AudienceHonoured: false}
			},
			want: got{Audience: testUserClientID, Email: testUserEmail},
		},
		{
			desc: "external_account (workload identity federation) with impersonation URL",
			setup: func(te *testEnv) (Options, Description) {
				subject := te.writeFile(filepath.Join(te.t.TempDir(), "subject"), []byte("federated-subject-token"))
				p := te.useADC(map[string]any{
					"type":                              "external_account",
					"audience":                          "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/providers/prov",
					"subject_token_type":                "urn:ietf:params:oauth:token-type:jwt",
					"token_url":                         te.fg.srv.URL + "/sts",
					"credential_source":                 map[string]any{"file": subject},
					"service_account_impersonation_url": te.impersonationURL(testTargetEmail, "generateAccessToken"),
				})
				o := te.options()
				o.Source = SourceGoogleAuth
				return o, Description{Source: "google-auth", CredentialType: "external_account", CredentialFile: p, ImpersonationTarget: testTargetEmail, AudienceHonoured: true}
			},
			want:    got{Audience: testAudience, Email: testTargetEmail},
			wantIAM: []iamCall{{Email: testTargetEmail, Audience: testAudience, BearerKind: "federated", IncludeEmail: true}},
		},
		{
			desc: "gcloud with a user account: gcloud's default audience",
			setup: func(te *testEnv) (Options, Description) {
				g := te.installGcloud(testUserEmail)
				g.setToken(gcloudAudience, testUserEmail)
				o := te.options()
				o.Source = SourceGcloud
				return o, Description{Source: "gcloud", CredentialType: "gcloud", Principal: testUserEmail, AudienceHonoured: false}
			},
			want:           got{Audience: gcloudAudience, Email: testUserEmail},
			wantGcloudArgs: "auth print-identity-token",
		},
		{
			desc: "gcloud with a service account: --audiences",
			setup: func(te *testEnv) (Options, Description) {
				g := te.installGcloud(testSAEmail)
				g.setToken(testAudience, testSAEmail)
				o := te.options()
				o.Source = SourceGcloud
				return o, Description{Source: "gcloud", CredentialType: "gcloud", Principal: testSAEmail, AudienceHonoured: true}
			},
			want:           got{Audience: testAudience, Email: testSAEmail},
			wantGcloudArgs: "auth print-identity-token --audiences=" + testAudience,
		},
		{
			desc: "gcloud --impersonate-service-account",
			setup: func(te *testEnv) (Options, Description) {
				g := te.installGcloud(testUserEmail)
				g.setToken(testAudience, testTargetEmail)
				o := te.options()
				o.Source = SourceGcloud
				o.ImpersonateServiceAccount = testTargetEmail
				return o, Description{Source: "gcloud", CredentialType: "gcloud", Principal: testUserEmail, ImpersonationTarget: testTargetEmail, AudienceHonoured: true}
			},
			want:           got{Audience: testAudience, Email: testTargetEmail},
			wantGcloudArgs: "auth print-identity-token --impersonate-service-account=" + testTargetEmail + " --include-email --audiences=" + testAudience,
		},
		{
			desc: "google-auth --impersonate-service-account from authorized_user ADC",
			setup: func(te *testEnv) (Options, Description) {
				p := te.useWellKnownADC(te.authorizedUser())
				te.set(envIAMEndpoint, te.fg.srv.URL)
				o := te.options()
				o.Source = SourceGoogleAuth
				o.ImpersonateServiceAccount = testTargetEmail
				return o, Description{Source: "google-auth", CredentialType: "authorized_user", CredentialFile: p, ImpersonationTarget: testTargetEmail, AudienceHonoured: true}
			},
			want:    got{Audience: testAudience, Email: testTargetEmail},
			wantIAM: []iamCall{{Email: testTargetEmail, Audience: testAudience, BearerKind: "user", IncludeEmail: true}},
		},
		{
			desc: "google-auth --impersonate-service-account from a service_account key",
			setup: func(te *testEnv) (Options, Description) {
				p := te.useADC(te.serviceAccountKey())
				te.set(envIAMEndpoint, te.fg.srv.URL)
				o := te.options()
				o.Source = SourceGoogleAuth
				o.ImpersonateServiceAccount = testTargetEmail
				return o, Description{Source: "google-auth", CredentialType: "service_account", CredentialFile: p, Principal: testSAEmail, ImpersonationTarget: testTargetEmail, AudienceHonoured: true}
			},
			want:    got{Audience: testAudience, Email: testTargetEmail},
			wantIAM: []iamCall{{Email: testTargetEmail, Audience: testAudience, BearerKind: "sa", IncludeEmail: true}},
		},
		{
			desc: "google-auth --impersonate-service-account from the metadata server",
			setup: func(te *testEnv) (Options, Description) {
				te.useMetadata()
				te.set(envIAMEndpoint, te.fg.srv.URL)
				o := te.options()
				o.Source = SourceGoogleAuth
				o.ImpersonateServiceAccount = testTargetEmail
				return o, Description{Source: "google-auth", CredentialType: "metadata", Principal: testMetadataEmail, ImpersonationTarget: testTargetEmail, AudienceHonoured: true}
			},
			want:    got{Audience: testAudience, Email: testTargetEmail},
			wantIAM: []iamCall{{Email: testTargetEmail, Audience: testAudience, BearerKind: "metadata", IncludeEmail: true}},
		},
		{
			desc: "google-auth --impersonate-service-account on top of an impersonated_service_account file",
			setup: func(te *testEnv) (Options, Description) {
				p := te.useADC(map[string]any{
					"type":                              "impersonated_service_account",
					"service_account_impersonation_url": te.impersonationURL("middle@proj.iam.gserviceaccount.com", "generateAccessToken"),
					"source_credentials":                te.authorizedUser(),
				})
				o := te.options()
				o.Source = SourceGoogleAuth
				o.ImpersonateServiceAccount = testTargetEmail
				return o, Description{Source: "google-auth", CredentialType: "impersonated_service_account", CredentialFile: p, ImpersonationTarget: testTargetEmail, AudienceHonoured: true}
			},
			want: got{Audience: testAudience, Email: testTargetEmail},
			wantIAM: []iamCall{{Email: testTargetEmail, Audience: testAudience, BearerKind: "user", IncludeEmail: true,
				Delegates: []string{"projects/-/serviceAccounts/middle@proj.iam.gserviceaccount.com"}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			te := newTestEnv(t)
			opts, wantDesc := tc.setup(te)
			p, err := NewProvider(context.Background(), opts)
			if err != nil {
				t.Fatalf("NewProvider: %v", err)
			}
			tok, err := p.Fetch(context.Background())
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if _, err := verifyJWT(tok.Reveal()); err != nil {
				t.Fatalf("token is not one the fake minted: %v", err)
			}
			tc.want.Desc = wantDesc
			g := got{Desc: p.Describe(), Audience: tok.Claims().Audience, Email: tok.Claims().Email}
			if diff := cmp.Diff(tc.want, g, cmpopts.IgnoreFields(Description{}, "Why")); diff != "" {
				t.Errorf("provider (-want +got):\n%s", diff)
			}
			if tok.Expiry().IsZero() || !tok.Expiry().After(te.clk.Now()) {
				t.Errorf("Expiry() = %v, want the JWT exp after now", tok.Expiry())
			}
			if diff := cmp.Diff(tc.wantIAM, te.fg.iamLog(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("IAM generateIdToken calls (-want +got):\n%s", diff)
			}
			if tc.wantGcloudArgs != "" {
				args := gcloudArgs(te)
				if diff := cmp.Diff([]string{"config get-value account", tc.wantGcloudArgs}, args); diff != "" {
					t.Errorf("gcloud invocations (-want +got):\n%s", diff)
				}
			}
			// Fetch always mints: a second call returns a different token.
			if tc.wantGcloudArgs == "" {
				tok2, err := p.Fetch(context.Background())
				if err != nil {
					t.Fatalf("second Fetch: %v", err)
				}
				if tok2.same(tok) {
					t.Errorf("second Fetch returned the same token; Fetch must always mint")
				}
			}
		})
	}
}

func gcloudArgs(te *testEnv) []string {
	g := &fakeGcloud{te: te, cfg: te.gcloudConfigDir()}
	return g.args()
}

func TestAutoPicks(t *testing.T) {
	tests := []struct {
		desc       string
		setup      func(te *testEnv)
		imp        string
		probe      bool // no GCE_METADATA_HOST: probe the fake as if it were 169.254.169.254
		wantSource string
		wantType   string
		wantWhy    string // substring
	}{
		{
			desc:       "service account key ADC",
			setup:      func(te *testEnv) { te.useADC(te.serviceAccountKey()) },
			wantSource: "google-auth", wantType: "service_account", wantWhy: "GOOGLE_APPLICATION_CREDENTIALS",
		},
		{
			desc: "service account key ADC wins over a logged-in gcloud",
			setup: func(te *testEnv) {
				te.useWellKnownADC(te.serviceAccountKey())
				te.installGcloud(testUserEmail)
			},
			wantSource: "google-auth", wantType: "service_account", wantWhy: "well-known",
		},
		{
			desc:       "no ADC file, metadata server",
			setup:      func(te *testEnv) { te.useMetadata() },
			wantSource: "google-auth", wantType: "metadata", wantWhy: "GCE_METADATA_HOST",
		},
		{
			desc:       "no ADC file, metadata server found by the probe",
			setup:      func(te *testEnv) {},
			probe:      true,
			wantSource: "google-auth", wantType: "metadata", wantWhy: "answered",
		},
		{
			desc:       "no ADC file, probe finds no metadata server, gcloud logged in",
			setup:      func(te *testEnv) { te.installGcloud(testUserEmail) },
			wantSource: "gcloud", wantType: "gcloud", wantWhy: "NO_GCE_CHECK",
		},
		{
			desc: "impersonated_service_account ADC",
			setup: func(te *testEnv) {
				te.useADC(map[string]any{
					"type":                              "impersonated_service_account",
					"service_account_impersonation_url": te.impersonationURL(testTargetEmail, "generateAccessToken"),
					"source_credentials":                te.authorizedUser(),
				})
				te.installGcloud(testUserEmail)
			},
			wantSource: "google-auth", wantType: "impersonated_service_account",
		},
		{
			desc: "user ADC and a logged-in gcloud: gcloud",
			setup: func(te *testEnv) {
				te.useWellKnownADC(te.authorizedUser())
				te.installGcloud(testUserEmail)
			},
			wantSource: "gcloud", wantType: "gcloud", wantWhy: "user credentials",
		},
		{
			desc:       "user ADC and no gcloud: user ADC",
			setup:      func(te *testEnv) { te.useWellKnownADC(te.authorizedUser()) },
			wantSource: "google-auth", wantType: "authorized_user", wantWhy: "gcloud is not usable",
		},
		{
			desc: "user ADC and a logged-out gcloud: user ADC",
			setup: func(te *testEnv) {
				te.useWellKnownADC(te.authorizedUser())
				te.installGcloud("")
			},
			wantSource: "google-auth", wantType: "authorized_user", wantWhy: "gcloud auth login",
		},
		{
			desc: "user ADC with --impersonate-service-account: google-auth",
			setup: func(te *testEnv) {
				te.useWellKnownADC(te.authorizedUser())
				te.installGcloud(testUserEmail)
			},
			imp:        testTargetEmail,
			wantSource: "google-auth", wantType: "authorized_user",
		},
		{
			desc:       "nothing but a logged-in gcloud",
			setup:      func(te *testEnv) { te.installGcloud(testUserEmail) },
			wantSource: "gcloud", wantType: "gcloud", wantWhy: "no usable Application Default Credentials",
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			te := newTestEnv(t)
			tc.setup(te)
			o := te.options()
			o.ImpersonateServiceAccount = tc.imp
			if tc.probe {
				delete(te.vars, envNoGCECheck)
				o.metadataIP = te.fg.host()
			}
			p, err := NewProvider(context.Background(), o)
			if err != nil {
				t.Fatalf("NewProvider: %v", err)
			}
			d := p.Describe()
			if d.Source != tc.wantSource || d.CredentialType != tc.wantType {
				t.Errorf("picked %s/%s, want %s/%s (why: %s)", d.Source, d.CredentialType, tc.wantSource, tc.wantType, d.Why)
			}
			if !strings.Contains(d.Why, tc.wantWhy) || !strings.HasPrefix(d.Why, "auto: ") {
				t.Errorf("Why = %q, want it to start with \"auto: \" and mention %q", d.Why, tc.wantWhy)
			}
			if logs := te.logs.String(); !strings.Contains(logs, "token source selected") || !strings.Contains(logs, "why=") {
				t.Errorf("logs do not say which source was picked and why:\n%s", logs)
			}
		})
	}
}

func TestAuthorizedUserSaysAudienceIsNotHonouredOnce(t *testing.T) {
	te := newTestEnv(t)
	te.useWellKnownADC(te.authorizedUser())
	logs := te.logsAfterTokens(t, SourceGoogleAuth, 3)
	if n := strings.Count(logs, "OAuth client id as audience"); n != 1 {
		t.Errorf("info about the audience logged %d times, want once:\n%s", n, logs)
	}
	for _, want := range []string{"level=INFO", "--token-source gcloud", "--impersonate-service-account"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

func TestGcloudIgnoresAudienceAtDebug(t *testing.T) {
	te := newTestEnv(t)
	g := te.installGcloud(testUserEmail)
	g.setToken(gcloudAudience, testUserEmail)
	o := te.options()
	o.Source = SourceGcloud
	if _, err := NewProvider(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if logs := te.logs.String(); !strings.Contains(logs, "level=DEBUG") || !strings.Contains(logs, "--audience is ignored") {
		t.Errorf("no debug line saying the audience is ignored:\n%s", logs)
	}
}

func TestMetadataProbeRejectsNonGoogleServer(t *testing.T) {
	te := newTestEnv(t)
	delete(te.vars, envNoGCECheck)
	notGoogle := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer notGoogle.Close()
	o := te.options()
	o.Source = SourceGoogleAuth
	o.metadataIP = strings.TrimPrefix(notGoogle.URL, "http://")
	_, err := NewProvider(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "is not a Google metadata server") || !strings.Contains(err.Error(), "gcloud auth application-default login") {
		t.Fatalf("NewProvider: %v", err)
	}
}
