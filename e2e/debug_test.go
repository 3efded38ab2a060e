package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakecloudrun"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakegoogle"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/faults"
)

// debugRun is one run of `mcp-cloudrun-proxy debug`.
type debugRun struct {
	stdout, stderr string
	code           int
}

// runDebug runs `debug --url URL` with e's credentials; url "" means the fake's endpoint.
func (e *env) runDebug(t *testing.T, url string, args ...string) debugRun {
	t.Helper()
	if url == "" {
		url = e.crun.URL()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	all := append([]string{"debug", "--url", url, "--timeout", "20s"}, e.setup.Args...)
	cmd := exec.CommandContext(ctx, proxyBin, append(all, args...)...)
	cmd.Env = e.setup.Env
	cmd.Dir = e.dir
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run debug: %v\nstderr:\n%s", err, stderr.String())
	}
	return debugRun{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}

var debugVerdictLine = regexp.MustCompile(`(?m)^(ok|warn|FAIL|skip) +(\d+)\. (.*)$`)

// textVerdicts are the verdicts of the text report, one per step, as printed.
func textVerdicts(out string) []string {
	var v []string
	for _, m := range debugVerdictLine.FindAllStringSubmatch(out, -1) {
		v = append(v, m[1])
	}
	return v
}

// stepText is step n's block of the text report: its line and the note and fix under it.
func stepText(out string, n int) string {
	lines := strings.Split(out, "\n")
	var b strings.Builder
	in := false
	for _, l := range lines {
		if m := debugVerdictLine.FindStringSubmatch(l); m != nil {
			in = m[2] == strconv.Itoa(n)
		} else if !strings.HasPrefix(l, " ") {
			in = false
		}
		if in {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// debugReport is the --json document.
type debugReport struct {
	URL   string `json:"url"`
	OK    bool   `json:"ok"`
	Steps []struct {
		Step    int            `json:"step"`
		Name    string         `json:"name"`
		Verdict string         `json:"verdict"`
		Found   string         `json:"found"`
		Remedy  string         `json:"remedy"`
		Details map[string]any `json:"details"`
	} `json:"steps"`
}

// verdicts are the verdicts of the JSON report, spelt as in text (fail -> FAIL).
func (r debugReport) verdicts() []string {
	var v []string
	for _, s := range r.Steps {
		if s.Verdict == "fail" {
			v = append(v, "FAIL")
		} else {
			v = append(v, s.Verdict)
		}
	}
	return v
}

// checkDebugNoLeak fails if any issued token shows up in what debug printed or wrote.
func checkDebugNoLeak(t *testing.T, e *env, runs ...debugRun) {
	t.Helper()
	for _, r := range runs {
		for _, s := range secretsOf(e) {
			if strings.Contains(r.stdout, s) {
				t.Errorf("stdout contains a secret (%.12s...)", s)
			}
		}
		checkNoLeak(t, e, r.stderr)
	}
}

// TestDebug: each broken set-up fails at the step that names its cause, with the remedy, in
// text and in --json alike, and no output ever carries a token.
func TestDebug(t *testing.T) {
	t.Parallel()
	const otherAudience = "https://not-this-service.example.com"
	for _, tc := range []struct {
		desc string
		kind fakegoogle.Kind
		crun fakecloudrun.Options
		// prepare changes the world before each run of debug; it may return the URL to check.
		prepare  func(t *testing.T, e *env) string
		args     []string
		code     int
		verdicts []string
		// want maps a step number to substrings its text block must contain.
		want map[int][]string
		// sessions is how many sessions debug must have created and deleted.
		sessions int
	}{
		{
			desc: "all steps pass (service account key)", kind: fakegoogle.ServiceAccountKey,
			code: 0, verdicts: []string{"ok", "ok", "ok", "ok", "ok", "ok", "ok"}, sessions: 1,
			want: map[int][]string{
				2: {"Application Default Credentials, type service_account", "principal " + fakegoogle.ServiceAccountEmail},
				3: {"iss " + fakegoogle.Issuer, "email " + fakegoogle.ServiceAccountEmail, "left)"},
				4: {"HTTP 403 Forbidden: the service exists and requires authentication"},
				5: {"HTTP 200 OK", "a session id came back", "capabilities:", "tools"},
				6: {"tools: ", "echo", "session deleted"},
			},
		},
		{
			desc: "all steps pass (metadata server)", kind: fakegoogle.Metadata,
			code: 0, verdicts: []string{"ok", "ok", "ok", "ok", "ok", "ok", "ok"}, sessions: 1,
			want: map[int][]string{2: {"metadata server"}},
		},
		{
			desc: "all steps pass (impersonation)", kind: fakegoogle.ImpersonateFlag,
			code: 0, verdicts: []string{"ok", "ok", "ok", "ok", "ok", "ok", "ok"}, sessions: 1,
			want: map[int][]string{1: {"impersonating " + fakegoogle.TargetEmail}, 2: {"impersonating " + fakegoogle.TargetEmail}, 3: {"email " + fakegoogle.TargetEmail}},
		},
		{
			desc: "user credentials: the audience differs but the service accepts it", kind: fakegoogle.AuthorizedUser,
			code: 0, verdicts: []string{"ok", "ok", "warn", "ok", "ok", "ok", "ok"}, sessions: 1,
			want: map[int][]string{3: {"aud " + fakegoogle.ADCClientID, "accepts such user tokens in many setups but not all"}},
		},
		{
			desc: "wrong audience: gcloud user token", kind: fakegoogle.Gcloud,
			crun: fakecloudrun.Options{RejectClientIDAudiences: true},
			code: 1, verdicts: []string{"ok", "ok", "ok", "ok", "FAIL", "skip"},
			want: map[int][]string{
				2: {"gcloud", "active account " + fakegoogle.UserEmail},
				5: {"HTTP 401 Unauthorized", "the token carried the OAuth client id " + fakegoogle.GcloudClientID + " as aud", "it expects http://127.0.0.1:", "--impersonate-service-account"},
			},
		},
		{
			desc: "wrong audience: --audience", kind: fakegoogle.ServiceAccountKey, args: []string{"--audience", otherAudience},
			code: 1, verdicts: []string{"ok", "ok", "ok", "ok", "FAIL", "skip"},
			want: map[int][]string{
				1: {"audience " + otherAudience + " (given with --audience)"},
				5: {"HTTP 401 Unauthorized", "the token carried aud " + otherAudience, "expects the service URL http://127.0.0.1:", "leave --audience out"},
			},
		},
		{
			desc: "expired token", kind: fakegoogle.ServiceAccountKey,
			prepare: func(t *testing.T, e *env) string {
				// Tokens that expired before they were issued, as a machine with a clock far
				// ahead gets them.
				e.google.SetTokenLifetime(-time.Minute)
				return ""
			},
			code: 1, verdicts: []string{"ok", "ok", "FAIL", "ok", "FAIL", "skip"},
			want: map[int][]string{3: {"expired", "clock"}, 5: {"HTTP 401 Unauthorized", "the token expired at"}},
		},
		{
			desc: "revoked token", kind: fakegoogle.ServiceAccountKey,
			prepare: func(t *testing.T, e *env) string {
				// Cloud Run refuses a revoked token with 401 even though its aud is right. The
				// fake revokes only tokens issued before; an injected 401 on both initialize
				// POSTs (without and with the token) plays the revocation.
				e.crun.Faults().Reset()
				e.crun.Faults().FailNext(faults.Failure{Status: 401, RPCMethod: "initialize", Count: 2})
				return ""
			},
			code: 1, verdicts: []string{"ok", "ok", "ok", "ok", "FAIL", "skip"},
			want: map[int][]string{5: {"HTTP 401 Unauthorized", "carried the expected aud", "revoked", "log in again and rerun debug"}},
		},
		{
			desc: "principal without the invoker role (service account)", kind: fakegoogle.ServiceAccountKey,
			crun: fakecloudrun.Options{Invokers: []string{"somebody-else@example.com"}},
			code: 1, verdicts: []string{"ok", "ok", "ok", "ok", "FAIL", "skip"},
			want: map[int][]string{5: {
				"HTTP 403 Forbidden: the principal " + fakegoogle.ServiceAccountEmail + " lacks roles/run.invoker",
				"gcloud run services add-iam-policy-binding SERVICE --region REGION --project PROJECT --member=serviceAccount:" + fakegoogle.ServiceAccountEmail + " --role=roles/run.invoker",
				"replace SERVICE, REGION and PROJECT",
			}},
		},
		{
			desc: "principal without the invoker role (user)", kind: fakegoogle.Gcloud,
			crun: fakecloudrun.Options{Invokers: []string{"somebody-else@example.com"}},
			code: 1, verdicts: []string{"ok", "ok", "ok", "ok", "FAIL", "skip"},
			want: map[int][]string{5: {"--member=user:" + fakegoogle.UserEmail + " --role=roles/run.invoker"}},
		},
		{
			desc: "no credentials at all", kind: fakegoogle.ServiceAccountKey,
			prepare: func(t *testing.T, e *env) string {
				var kept []string
				for _, kv := range e.setup.Env {
					if !strings.HasPrefix(kv, "GOOGLE_APPLICATION_CREDENTIALS=") {
						kept = append(kept, kv)
					}
				}
				e.setup.Env = kept
				return ""
			},
			code: 1, verdicts: []string{"ok", "FAIL", "skip", "ok", "skip", "skip"},
			want: map[int][]string{2: {"no Google credentials found", "fix:  run `gcloud auth application-default login`"}},
		},
		{
			desc: "wrong path", kind: fakegoogle.ServiceAccountKey,
			prepare: func(t *testing.T, e *env) string { return e.crun.Origin() + "/not-mcp" },
			code:    1, verdicts: []string{"ok", "ok", "ok", "FAIL", "FAIL", "skip"},
			want: map[int][]string{
				4: {"HTTP 404 Not Found: nothing is served at this host and path", "check --url"},
				5: {"HTTP 404 Not Found: the URL does not point at the MCP endpoint", "/mcp"},
			},
		},
		{
			desc: "server down", kind: fakegoogle.ServiceAccountKey,
			prepare: func(t *testing.T, e *env) string {
				if err := e.crun.Close(); err != nil {
					t.Fatal(err)
				}
				// The same port on 127.0.0.2, where nothing of this suite ever listens: the
				// closed port on 127.0.0.1 may be taken by a parallel test meanwhile.
				return strings.Replace(e.crun.URL(), "127.0.0.1", "127.0.0.2", 1)
			},
			code: 1, verdicts: []string{"ok", "ok", "ok", "FAIL", "skip", "skip"},
			want: map[int][]string{4: {"connection refused", "is the server running?"}, 5: {"not run: the server cannot be reached"}},
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{kind: tc.kind, crun: tc.crun})
			prepare := func() string {
				if tc.prepare == nil {
					return ""
				}
				return tc.prepare(t, e)
			}
			text := e.runDebug(t, prepare(), tc.args...)
			checkDebugNoLeak(t, e, text)
			if text.code != tc.code {
				t.Errorf("exit code %d, want %d", text.code, tc.code)
			}
			if diff := cmp.Diff(tc.verdicts, textVerdicts(text.stdout)); diff != "" {
				t.Errorf("text verdicts (-want +got):\n%s", diff)
			}
			for n, subs := range tc.want {
				block := stepText(text.stdout, n)
				for _, s := range subs {
					if !strings.Contains(block, s) {
						t.Errorf("step %d lacks %q:\n%s", n, s, block)
					}
				}
			}
			if tc.sessions > 0 {
				st := e.crun.Stats()
				if st.SessionsCreated != tc.sessions || st.SessionsDeleted != tc.sessions {
					t.Errorf("sessions created %d, deleted %d; want %d each", st.SessionsCreated, st.SessionsDeleted, tc.sessions)
				}
			}

			js := e.runDebug(t, prepare(), append(tc.args, "--json")...)
			checkDebugNoLeak(t, e, js)
			var rep debugReport
			if err := json.Unmarshal([]byte(js.stdout), &rep); err != nil {
				t.Fatalf("--json output does not parse: %v\n%s", err, js.stdout)
			}
			if js.code != tc.code || rep.OK != (tc.code == 0) {
				t.Errorf("--json: exit %d, ok %v; want exit %d", js.code, rep.OK, tc.code)
			}
			if diff := cmp.Diff(tc.verdicts, rep.verdicts()); diff != "" {
				t.Errorf("--json verdicts (-want +got):\n%s", diff)
			}
			if t.Failed() {
				t.Logf("text report:\n%s\nstderr:\n%s", text.stdout, tail(text.stderr))
			}
		})
	}
}
