package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/tokens"
)

// fakeJWT is an unsigned token with the given claims: the debug command decodes claims and
// never checks signatures, and the stub server compares the whole string.
func fakeJWT(t *testing.T, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(claims) + ".c2lnbmF0dXJl"
}

// hermeticGcloud points the environment at a temporary HOME and, when account is not empty, a
// fake gcloud that is logged in as account and prints token.
func hermeticGcloud(t *testing.T, account, token string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if account != "" {
		script := fmt.Sprintf("#!/bin/sh\ncase \"$1 $2\" in\n\"config get-value\") printf '%%s\\n' '%s' ;;\n\"auth print-identity-token\") printf '%%s\\n' '%s' ;;\n*) echo \"fake gcloud: unexpected $*\" >&2; exit 2 ;;\nesac\n", account, token)
		if err := os.WriteFile(filepath.Join(bin, "gcloud"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin)
	t.Setenv("HOME", dir)
	t.Setenv("CLOUDSDK_CONFIG", filepath.Join(dir, "gcloud"))
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("GCE_METADATA_HOST", "")
	t.Setenv("NO_GCE_CHECK", "true")
	for _, k := range []string{"MCP_CLOUDRUN_PROXY_URL", "MCP_CLOUDRUN_PROXY_AUDIENCE", "MCP_CLOUDRUN_PROXY_TOKEN_SOURCE", "MCP_CLOUDRUN_PROXY_IMPERSONATE_SERVICE_ACCOUNT",
		"MCP_CLOUDRUN_PROXY_SERVICE", "MCP_CLOUDRUN_PROXY_RUN_ENDPOINT", "CLOUDSDK_CORE_PROJECT", "GOOGLE_CLOUD_PROJECT", "CLOUDSDK_RUN_REGION", "CLOUDSDK_ACTIVE_CONFIG_NAME"} {
		t.Setenv(k, "") // restores the variable after the test
		os.Unsetenv(k)  // kong treats an empty variable as set
	}
}

// stubService is a minimal Cloud Run service: 403 without a token, status(token) otherwise
// (0 lets the request through to a small MCP server).
func stubService(t *testing.T, status func(token string) int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			http.Error(w, "<h1>Error: Forbidden</h1>", http.StatusForbidden)
			return
		}
		if c := status(tok); c != 0 {
			// An echo of the token must not reach the report.
			http.Error(w, "<h1>Error</h1> refused "+tok, c)
			return
		}
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		_ = json.Unmarshal(body, &m)
		reply := func(result string) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":%s}`, m.ID, result)
		}
		switch {
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusOK)
		case m.Method == "initialize":
			w.Header().Set("Mcp-Session-Id", "s1")
			reply(`{"protocolVersion":"2025-06-18","serverInfo":{"name":"stub","version":"0.1"},"capabilities":{"tools":{}}}`)
		case m.Method == "notifications/initialized":
			w.WriteHeader(http.StatusAccepted)
		case m.Method == "tools/list":
			reply(`{"tools":[{"name":"echo"},{"name":"add"}]}`)
		default:
			http.Error(w, "unexpected", http.StatusBadRequest)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

var verdictLine = regexp.MustCompile(`(?m)^(ok|warn|FAIL|skip) +\d+\. `)

func verdicts(text string) []string {
	var out []string
	for _, m := range verdictLine.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestDebugCommand(t *testing.T) {
	const sa = "invoker@proj.iam.gserviceaccount.com"
	const gcloudAud = "32555940559.apps.googleusercontent.com"
	now := time.Now()
	for _, tc := range []struct {
		desc     string
		account  string // gcloud's account; "" means no gcloud (and no ADC)
		aud      string // the token's aud; "" means the service origin
		status   int    // the service's answer to the token; 0 lets it through
		args     []string
		code     int
		verdicts []string
		contains []string
		absent   []string
	}{
		{
			desc: "all pass", account: sa, args: []string{"--token-source", "gcloud"},
			code: 0, verdicts: []string{"ok", "ok", "ok", "ok", "ok", "ok", "ok"},
			contains: []string{"active account " + sa, "aud http://127.0.0.1:", `server "stub" 0.1, protocol 2025-06-18`, "2 tools: echo, add; session deleted (HTTP 200 OK)", "PASSED"},
		},
		{
			desc: "user account token for the wrong audience", account: "alice@example.com", aud: gcloudAud, status: 401, args: []string{"--token-source", "gcloud"},
			// Step 3 is ok: Cloud Run accepts gcloud user tokens from invokers. This service
			// refused it, and step 5 says why and what to do instead.
			code: 1, verdicts: []string{"ok", "ok", "ok", "ok", "FAIL", "skip"},
			contains: []string{"aud is gcloud's OAuth client id " + gcloudAud + ", not http://127.0.0.1:", "the token carried the OAuth client id " + gcloudAud + " as aud", "--impersonate-service-account"},
			absent:   []string{"--add-custom-audiences=" + gcloudAud},
		},
		{
			desc: "not an invoker", account: sa, status: 403, args: []string{"--token-source", "gcloud"},
			code: 1, verdicts: []string{"ok", "ok", "ok", "ok", "FAIL", "skip"},
			contains: []string{"the principal " + sa + " lacks roles/run.invoker", "gcloud run services add-iam-policy-binding SERVICE --region REGION --project PROJECT --member=serviceAccount:" + sa + " --role=roles/run.invoker", "replace SERVICE, REGION and PROJECT"},
		},
		{
			desc: "no credentials", code: 1, verdicts: []string{"ok", "FAIL", "skip", "ok", "skip", "skip"},
			contains: []string{"no Google credentials found", "fix:  run `gcloud auth application-default login`"},
		},
		{
			desc: "URL without a path", account: sa, args: []string{"--token-source", "gcloud", "--url-path", "/"},
			code: 0, verdicts: []string{"warn", "ok", "ok", "ok", "ok", "ok", "ok"},
			contains: []string{"most MCP servers serve Streamable HTTP at /mcp"},
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			var srv *httptest.Server
			var token string
			srv = stubService(t, func(got string) int {
				if got != token {
					return http.StatusUnauthorized
				}
				return tc.status
			})
			aud := tc.aud
			if aud == "" {
				aud = srv.URL
			}
			email := tc.account
			token = fakeJWT(t, map[string]any{"iss": "https://accounts.google.com", "aud": aud, "email": email, "sub": "1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
			hermeticGcloud(t, tc.account, token)

			path := "/mcp"
			args := []string{"debug", "--log-level", "warn"}
			for i := 0; i < len(tc.args); i++ {
				if tc.args[i] == "--url-path" {
					path = tc.args[i+1]
					i++
					continue
				}
				args = append(args, tc.args[i])
			}
			args = append(args, "--url", srv.URL+path)
			for _, asJSON := range []bool{false, true} {
				var stdout, stderr bytes.Buffer
				a := args
				if asJSON {
					a = append(append([]string{}, args...), "--json")
				}
				code := execute(t.Context(), a, strings.NewReader(""), &stdout, &stderr)
				if code != tc.code {
					t.Errorf("json=%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", asJSON, code, tc.code, stdout.String(), stderr.String())
				}
				if strings.Contains(stdout.String()+stderr.String(), token) {
					t.Errorf("json=%v: the token appears in the output", asJSON)
				}
				got := verdicts(stdout.String())
				if asJSON {
					got = jsonVerdicts(t, stdout.Bytes())
				}
				if diff := cmp.Diff(tc.verdicts, got); diff != "" {
					t.Errorf("json=%v: verdicts (-want +got):\n%s\nstdout:\n%s", asJSON, diff, stdout.String())
				}
				if asJSON {
					continue
				}
				t.Logf("report:\n%s", stdout.String())
				for _, s := range tc.contains {
					if !strings.Contains(stdout.String(), s) {
						t.Errorf("stdout lacks %q:\n%s", s, stdout.String())
					}
				}
				for _, s := range tc.absent {
					if strings.Contains(stdout.String(), s) {
						t.Errorf("stdout must not say %q:\n%s", s, stdout.String())
					}
				}
			}
		})
	}
}

// jsonVerdicts reads the verdicts of a --json report, in the text output's spelling.
func jsonVerdicts(t *testing.T, b []byte) []string {
	t.Helper()
	var rep struct {
		OK    bool `json:"ok"`
		Steps []struct {
			Verdict string `json:"verdict"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, b)
	}
	var out []string
	failed := false
	for _, s := range rep.Steps {
		v := s.Verdict
		if v == "fail" {
			v, failed = "FAIL", true
		}
		out = append(out, v)
	}
	if rep.OK == failed {
		t.Errorf("ok = %v with a failed step: %v", rep.OK, failed)
	}
	return out
}

func TestRejectionHints(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		desc       string
		url, aud   string
		email      string
		desc2      tokens.Description
		forbidden  string // Remedy for 403
		note       string // substring of the 403 Note
		unauthFind string // substring of the 401 Found
	}{
		{
			desc: "deterministic run.app URL", url: "https://hello-123456789012.us-central1.run.app/mcp", aud: "https://hello-123456789012.us-central1.run.app",
			email: "alice@example.com", desc2: tokens.Description{CredentialType: tokens.TypeGcloud, AudienceHonoured: true},
			forbidden:  "gcloud run services add-iam-policy-binding hello --region us-central1 --project 123456789012 --member=user:alice@example.com --role=roles/run.invoker",
			note:       "service hello and region us-central1 read from the URL",
			unauthFind: "carried the expected aud https://hello-123456789012.us-central1.run.app",
		},
		{
			desc: "hash run.app URL", url: "https://my-svc-abcdefghij-uc.a.run.app/mcp", aud: "32555940559.apps.googleusercontent.com",
			desc2:      tokens.Description{CredentialType: tokens.TypeGcloud, Principal: "sa@p.iam.gserviceaccount.com"},
			forbidden:  "gcloud run services add-iam-policy-binding my-svc --region REGION --project PROJECT --member=serviceAccount:sa@p.iam.gserviceaccount.com --role=roles/run.invoker",
			note:       `region code "uc"`,
			unauthFind: "the token carried the OAuth client id 32555940559.apps.googleusercontent.com as aud (these credentials cannot choose it) and the service refused it; it expects https://my-svc-abcdefghij-uc.a.run.app",
		},
		{
			desc: "impersonation target without an email claim", url: "https://mcp.example.com/mcp", aud: "https://mcp.example.com",
			desc2:     tokens.Description{CredentialType: tokens.TypeServiceAccount, Principal: "src@p.iam.gserviceaccount.com", ImpersonationTarget: "target@p.iam.gserviceaccount.com", AudienceHonoured: true},
			forbidden: "gcloud run services add-iam-policy-binding SERVICE --region REGION --project PROJECT --member=serviceAccount:target@p.iam.gserviceaccount.com --role=roles/run.invoker",
			note:      "not a run.app address",
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			tok, err := tokens.ParseToken(fakeJWT(t, map[string]any{"iss": "https://accounts.google.com", "aud": tc.aud, "email": tc.email, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}))
			if err != nil {
				t.Fatal(err)
			}
			d := diagnosis{flags: &connectionFlags{URL: tc.url}, now: time.Now, desc: tc.desc2, token: tok, fetched: true}
			h := d.hints()
			if h.Forbidden.Remedy != tc.forbidden {
				t.Errorf("403 remedy:\n got %s\nwant %s", h.Forbidden.Remedy, tc.forbidden)
			}
			if !strings.Contains(h.Forbidden.Note, tc.note) {
				t.Errorf("403 note %q lacks %q", h.Forbidden.Note, tc.note)
			}
			if !strings.Contains(h.Unauthorized.Found, tc.unauthFind) {
				t.Errorf("401 found %q lacks %q", h.Unauthorized.Found, tc.unauthFind)
			}
		})
	}
}

func TestDebugFlagErrors(t *testing.T) {
	hermeticGcloud(t, "", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"debug", "--url", "http://127.0.0.1:1/mcp", "--timeout", "0s"}, "--timeout 0s: must be positive"},
		{[]string{"debug", "--url", "http://example.com/mcp"}, "plain http is allowed only for loopback hosts"},
		{[]string{"debug"}, "--url"},
		{[]string{"debug", "--service", "svc", "--url", "https://svc-x.a.run.app/mcp"}, "--service and --url (or MCP_CLOUDRUN_PROXY_URL) are mutually exclusive"},
	} {
		var stdout, stderr bytes.Buffer
		if code := execute(t.Context(), tc.args, strings.NewReader(""), &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", tc.args, code)
		}
		if !strings.Contains(stderr.String(), tc.want) || stdout.Len() != 0 {
			t.Errorf("%v: stdout %q, stderr %q; want nothing on stdout and %q on stderr", tc.args, stdout.String(), stderr.String(), tc.want)
		}
	}
}
