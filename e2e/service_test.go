package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakecloudrun"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakegoogle"
)

// The service the Admin API tests configure in the fake Google.
const (
	svcProject = "fake-project"
	svcNumber  = "123456789012"
	svcRegion  = "us-central1"
	svcName    = "mcp-svc"
	svcRes     = "projects/" + svcProject + "/locations/" + svcRegion + "/services/" + svcName
)

// serviceArgs name the service with flags, instead of --url.
var serviceArgs = []string{"--service", svcName, "--region", svcRegion, "--project", svcProject}

// newServiceEnv is an env whose fake Cloud Run obeys the settings of svcRes in the fake Admin
// API: by default ingress all, IAM required, and the principal an invoker. edit changes them.
func newServiceEnv(t *testing.T, kind fakegoogle.Kind, edit func(*env, *fakegoogle.RunService)) *env {
	t.Helper()
	e := newEnv(t, envOpts{kind: kind, crun: fakecloudrun.Options{RunService: svcRes}})
	svc := fakegoogle.RunService{Project: svcProject, ProjectNumber: svcNumber, Region: svcRegion, Name: svcName,
		URI: e.crun.Origin(), Invokers: []string{fakegoogle.MemberOf(e.setup.Principal)}}
	if edit != nil {
		edit(e, &svc)
	}
	e.google.PutRunService(svc)
	e.setup.Env = append(e.setup.Env, fakegoogle.RunEndpointEnv+"="+e.google.URL())
	return e
}

// runCLI runs the proxy binary with args, e's credential flags and e's environment plus env.
func (e *env) runCLI(t *testing.T, env []string, args ...string) debugRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, proxyBin, append(args, e.setup.Args...)...)
	cmd.Env = append(append([]string{}, e.setup.Env...), env...)
	cmd.Dir = e.dir
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run %v: %v\nstderr:\n%s", args, err, stderr.String())
	}
	return debugRun{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}

// TestDebugServiceStep: debug reads the service's own settings and judges each (ingress,
// invokerIamDisabled, customAudiences, iapEnabled, run.routes.invoke) in text and --json
// alike, before any MCP request; it finds the service by --service or by listing the
// project, and says in one line when it cannot read the settings.
func TestDebugServiceStep(t *testing.T) {
	t.Parallel()
	const custom = "https://mcp.example.com"
	noInvoker := func(_ *env, s *fakegoogle.RunService) { s.Invokers = nil }
	for _, tc := range []struct {
		desc string
		kind fakegoogle.Kind
		edit func(*env, *fakegoogle.RunService)
		// url true checks --url (the service found by listing when env names the project).
		url      bool
		args     []string
		env      []string
		code     int
		verdicts []string
		// service are substrings of the service step; topic is the judgment to find in --json
		// with its verdict.
		service      []string
		topic, judge string
		// initialized is whether an MCP session reached the service.
		initialized bool
	}{
		{
			desc: "every setting fine (--service)", code: 0,
			verdicts: []string{"ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok"}, initialized: true,
			service: []string{"mcp-svc in us-central1 of project fake-project (found by --service)", "ingress all", "audience http://127.0.0.1:", "holds run.routes.invoke"},
			topic:   "invoke", judge: "ok",
		},
		{
			desc: "not an invoker: the grant command, no MCP request", edit: noInvoker, code: 1,
			verdicts: []string{"ok", "ok", "ok", "FAIL", "ok", "skip", "skip"},
			service: []string{fakegoogle.ServiceAccountEmail + " lacks run.routes.invoke", "nobody holds roles/run.invoker on it",
				"gcloud run services add-iam-policy-binding mcp-svc --region us-central1 --project fake-project --member=serviceAccount:" + fakegoogle.ServiceAccountEmail + " --role=roles/run.invoker"},
			topic: "invoke", judge: "fail",
		},
		{
			desc: "someone else is the invoker: getIamPolicy names them", code: 1,
			edit: func(_ *env, s *fakegoogle.RunService) {
				s.Invokers = []string{"user:bob@example.com", "group:team@example.com"}
			},
			service: []string{"lacks run.routes.invoke", "roles/run.invoker is granted to user:bob@example.com, group:team@example.com"},
			topic:   "invoke", judge: "fail",
		},
		{
			desc: "ingress internal", edit: func(_ *env, s *fakegoogle.RunService) { s.Ingress = fakegoogle.IngressInternalOnly }, code: 1,
			verdicts: []string{"ok", "ok", "ok", "FAIL", "FAIL", "skip", "skip"},
			service:  []string{"ingress internal", "--ingress=all"}, topic: "ingress", judge: "fail",
		},
		{
			desc: "public service", edit: func(_ *env, s *fakegoogle.RunService) { s.InvokerIAMDisabled, s.Invokers = true, nil }, code: 0,
			verdicts: []string{"ok", "ok", "ok", "ok", "warn", "ok", "ok", "ok"},
			service:  []string{"invoker IAM check disabled", "no token is needed"}, topic: "invoker_iam", judge: "ok", initialized: true,
		},
		{
			desc: "custom audience in use", edit: func(_ *env, s *fakegoogle.RunService) { s.CustomAudiences = []string{custom} },
			args: []string{"--audience", custom}, code: 0, verdicts: []string{"ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok"}, initialized: true,
			service: []string{"audience " + custom + " accepted", "custom audiences " + custom}, topic: "audience", judge: "ok",
		},
		{
			desc: "audience the service does not accept", edit: func(_ *env, s *fakegoogle.RunService) { s.CustomAudiences = []string{custom} },
			args: []string{"--audience", "https://other.example.com"}, code: 1,
			verdicts: []string{"ok", "ok", "ok", "FAIL", "ok", "skip", "skip"},
			service:  []string{"audience https://other.example.com is neither a URL of the service", "custom audiences " + custom, "--add-custom-audiences=https://other.example.com"},
			topic:    "audience", judge: "fail",
		},
		{
			desc: "IAP enabled", edit: func(_ *env, s *fakegoogle.RunService) { s.IAPEnabled = true }, code: 0,
			verdicts: []string{"ok", "ok", "ok", "warn", "ok", "ok", "ok", "ok"}, initialized: true,
			service: []string{"Identity-Aware Proxy is enabled", "roles/iap.httpsResourceAccessor", "--resource-type=cloud-run --service=mcp-svc"},
			topic:   "iap", judge: "warn",
		},
		{
			desc: "found by listing the project", url: true, env: []string{"CLOUDSDK_CORE_PROJECT=" + svcProject}, code: 0,
			verdicts: []string{"ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok"}, initialized: true,
			service: []string{"(found by listing the project's services)", "holds run.routes.invoke"}, topic: "invoke", judge: "ok",
		},
		{
			desc: "settings unreadable: one line, then the HTTP checks", url: true, env: []string{"GOOGLE_CLOUD_PROJECT=" + svcProject},
			edit: func(_ *env, s *fakegoogle.RunService) { s.Viewers = []string{"someone-else@example.com"} }, code: 0,
			verdicts: []string{"ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok"}, initialized: true,
			service: []string{"settings not read (" + fakegoogle.ServiceAccountEmail + " may not list the services of project fake-project", "run.services.list", "the steps below judge from HTTP answers instead"},
		},
		{
			desc: "Admin API unreachable: one line, then the HTTP checks", url: true,
			env: []string{"CLOUDSDK_CORE_PROJECT=" + svcProject, fakegoogle.RunEndpointEnv + "=http://127.0.0.1:1"}, code: 0,
			verdicts: []string{"ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok"}, initialized: true,
			service: []string{"settings not read (reading service", "connection refused", "the steps below judge from HTTP answers instead"},
		},
		{
			desc: "impersonation: the target's access token asks", kind: fakegoogle.ImpersonateFlag, code: 0,
			verdicts: []string{"ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok"}, initialized: true,
			service: []string{fakegoogle.TargetEmail + " holds run.routes.invoke"}, topic: "invoke", judge: "ok",
		},
		{
			desc: "gcloud user", kind: fakegoogle.Gcloud, code: 0, initialized: true,
			verdicts: []string{"ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok"},
			service:  []string{fakegoogle.UserEmail + " holds run.routes.invoke"}, topic: "invoke", judge: "ok",
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			e := newServiceEnv(t, tc.kind, tc.edit)
			target := serviceArgs
			if tc.url {
				target = []string{"--url", e.crun.URL()}
			}
			args := append(append([]string{"debug", "--timeout", "20s"}, target...), tc.args...)
			text := e.runCLI(t, tc.env, args...)
			js := e.runCLI(t, tc.env, append(args, "--json")...)
			checkDebugNoLeak(t, e, text, js)
			if text.code != tc.code || js.code != tc.code {
				t.Fatalf("exit %d (text), %d (--json), want %d\n%s\n%s", text.code, js.code, tc.code, text.stdout, text.stderr)
			}
			got := textVerdicts(text.stdout)
			if tc.verdicts != nil && !cmp.Equal(got, tc.verdicts) {
				t.Errorf("verdicts %v, want %v\n%s", got, tc.verdicts, text.stdout)
			}
			var rep debugReport
			if err := json.Unmarshal([]byte(js.stdout), &rep); err != nil {
				t.Fatalf("--json: %v\n%s", err, js.stdout)
			}
			if !cmp.Equal(rep.verdicts(), got) {
				t.Errorf("--json verdicts %v, text %v", rep.verdicts(), got)
			}
			block := stepText(text.stdout, 4)
			for _, want := range tc.service {
				if !strings.Contains(block, want) {
					t.Errorf("service step lacks %q:\n%s", want, text.stdout)
				}
			}
			if len(rep.Steps) < 4 || rep.Steps[3].Name != "service" {
				t.Fatalf("step 4 of --json is not the service step:\n%s", js.stdout)
			}
			if tc.topic != "" && !hasJudgment(rep.Steps[3].Details, tc.topic, tc.judge) {
				t.Errorf("--json service details lack judgment %s=%s: %v", tc.topic, tc.judge, rep.Steps[3].Details)
			}
			if st := e.crun.Stats(); (st.SessionsCreated > 0) != tc.initialized {
				t.Errorf("sessions created %d, want initialized=%v (rejected %v)", st.SessionsCreated, tc.initialized, st.Rejected)
			}
		})
	}
}

func hasJudgment(details map[string]any, topic, verdict string) bool {
	js, _ := details["judgments"].([]any)
	for _, j := range js {
		m, _ := j.(map[string]any)
		if m["topic"] == topic && m["verdict"] == verdict {
			return true
		}
	}
	return false
}

// TestFakeGateFollowsServiceIAM: with the settings unread (no project to look in), debug's
// HTTP checks meet the gate of the configured service: no invoker => 403 at initialize.
func TestFakeGateFollowsServiceIAM(t *testing.T) {
	t.Parallel()
	e := newServiceEnv(t, "", func(_ *env, s *fakegoogle.RunService) { s.Invokers = []string{"user:someone@example.com"} })
	r := e.runCLI(t, nil, "debug", "--timeout", "20s", "--url", e.crun.URL())
	if r.code != 1 || !strings.Contains(r.stdout, "lacks roles/run.invoker") {
		t.Fatalf("exit %d, want 1 with a 403 at initialize:\n%s", r.code, r.stdout)
	}
	if got := e.crun.Stats().Rejected["not-invoker"]; got == 0 {
		t.Errorf("the gate refused no request as not-invoker: %v", e.crun.Stats().Rejected)
	}
	e.google.UpdateRunService(svcRes, func(s *fakegoogle.RunService) {
		s.Invokers = append(s.Invokers, fakegoogle.MemberOf(e.setup.Principal))
	})
	if r := e.runCLI(t, nil, "debug", "--timeout", "20s", "--url", e.crun.URL()); r.code != 0 {
		t.Fatalf("after the grant: exit %d, want 0:\n%s", r.code, r.stdout)
	}
}

// TestServiceFlagErrors: --service says what is missing or wrong, and how to fix it.
func TestServiceFlagErrors(t *testing.T) {
	t.Parallel()
	e := newServiceEnv(t, "", nil)
	for _, tc := range []struct {
		desc string
		edit func(*fakegoogle.RunService)
		args []string
		code int
		want []string
	}{
		{desc: "no region", args: []string{"run", "--service", svcName, "--project", svcProject}, code: 1,
			want: []string{"--service mcp-svc needs a region", "CLOUDSDK_RUN_REGION", "gcloud config set run/region"}},
		{desc: "no project", args: []string{"run", "--service", svcName, "--region", svcRegion}, code: 1,
			want: []string{"--service mcp-svc needs a project", "gcloud config set project"}},
		{desc: "unknown service", args: []string{"debug", "--service", "nope", "--region", svcRegion, "--project", svcProject}, code: 1,
			want: []string{"no Cloud Run service nope in us-central1 of project fake-project", "Resource 'nope' of kind 'SERVICE' in region 'us-central1' in project 'fake-project' does not exist.", "mcp-cloudrun-proxy services --project fake-project"}},
		{desc: "no run.services.get", edit: func(s *fakegoogle.RunService) { s.Viewers = []string{} }, args: append([]string{"run"}, serviceArgs...), code: 1,
			want: []string{fakegoogle.ServiceAccountEmail + " may not read service mcp-svc", "run.services.get", "Permission 'run.services.get' denied", "--role=roles/run.viewer"}},
		{desc: "with --url", args: []string{"debug", "--service", svcName, "--url", "http://127.0.0.1:1/mcp"}, code: 2,
			want: []string{"--service and --url (or MCP_CLOUDRUN_PROXY_URL) are mutually exclusive"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if tc.edit != nil {
				e.google.UpdateRunService(svcRes, tc.edit)
				defer e.google.UpdateRunService(svcRes, func(s *fakegoogle.RunService) { s.Viewers = nil })
			}
			r := e.runCLI(t, nil, tc.args...)
			out := r.stdout + r.stderr
			if r.code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", r.code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			checkDebugNoLeak(t, e, r)
		})
	}
}

// TestRunService: `run --service` relays to the URL the Admin API names; region and project
// come from gcloud's active configuration when no flag or variable names them.
func TestRunService(t *testing.T) {
	t.Parallel()
	e := newServiceEnv(t, "", nil)
	cfg := filepath.Join(e.setup.CloudSDKConfig, "configurations")
	if err := os.MkdirAll(cfg, 0o700); err != nil {
		t.Fatal(err)
	}
	ini := "[core]\nproject = " + svcProject + "\n\n[run]\nregion = " + svcRegion + "\n"
	if err := os.WriteFile(filepath.Join(cfg, "config_default"), []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	e.target = []string{"--service", svcName}
	p := e.startProxy(t, proxyOpts{})
	if got := p.mustText(t, "echo", map[string]any{"text": "via --service"}); !strings.Contains(got, "via --service") {
		t.Errorf("echo answered %q", got)
	}
	p.close(t)
	log := p.stderr.String()
	for _, want := range []string{"resolved --service", "region_from=\"gcloud configuration default (run/region)\"", "url=" + e.crun.URL()} {
		if !strings.Contains(log, want) {
			t.Errorf("stderr lacks %q:\n%s", want, tail(log))
		}
	}
	if n := e.google.RunAPIRequests()["get"]; n != 1 {
		t.Errorf("Admin API services.get requests: %d, want 1", n)
	}
}

// TestInstallConfigService: install-config --service writes the resolved --url (the entry
// needs no Admin API at run time), names the entry after the service, and says what it
// resolved.
func TestInstallConfigService(t *testing.T) {
	t.Parallel()
	e := newServiceEnv(t, "", nil)
	file := filepath.Join(e.dir, "claude.json")
	r := e.runCLI(t, nil, append([]string{"install-config", "--client", "claude-desktop", "--config", file}, serviceArgs...)...)
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	want := "Resolved --service mcp-svc (region us-central1, project fake-project) to " + e.crun.URL()
	if !strings.Contains(r.stdout, want) {
		t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
	}
	var cfg struct {
		MCPServers map[string]struct {
			Args []string `json:"args"`
		} `json:"mcpServers"`
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("%v:\n%s", err, b)
	}
	entry, ok := cfg.MCPServers[svcName]
	if !ok {
		t.Fatalf("no entry %q:\n%s", svcName, b)
	}
	if diff := cmp.Diff([]string{"run", "--url", e.crun.URL()}, entry.Args); diff != "" {
		t.Errorf("entry args (-want +got):\n%s", diff)
	}
	// --remove --service needs no Admin API: the entry is named after the service.
	e.google.UpdateRunService(svcRes, func(s *fakegoogle.RunService) { s.Viewers = []string{} })
	gets := e.google.RunAPIRequests()["get"]
	r = e.runCLI(t, nil, "install-config", "--client", "claude-desktop", "--config", file, "--remove", "--service", svcName)
	if r.code != 0 || !strings.Contains(r.stdout, `Removed "mcp-svc"`) {
		t.Errorf("--remove --service: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := e.google.RunAPIRequests()["get"]; n != gets {
		t.Errorf("--remove asked the Admin API %d times", n-gets)
	}
}

// TestServicesCommand: services lists what the caller can see with URL, ingress and whether
// it may invoke each, and with --initialize whether each answers MCP; --json carries the same.
func TestServicesCommand(t *testing.T) {
	t.Parallel()
	e := newServiceEnv(t, "", nil)
	e.google.PutRunService(fakegoogle.RunService{Project: svcProject, Region: "europe-west4", Name: "closed",
		URI: "http://127.0.0.1:1", Ingress: fakegoogle.IngressInternalOnly})
	r := e.runCLI(t, nil, "services", "--project", svcProject, "--initialize")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"Project fake-project, region - (all): 2 services", "closed   europe-west4  http://127.0.0.1:1", "internal", "no", "mcp-svc  us-central1   " + e.crun.Origin(), "ok (fakecloudrun"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	js := e.runCLI(t, nil, "services", "--project", svcProject, "--region", svcRegion, "--json")
	var doc struct {
		Services []map[string]string `json:"services"`
	}
	if err := json.Unmarshal([]byte(js.stdout), &doc); err != nil || js.code != 0 {
		t.Fatalf("--json: exit %d, %v:\n%s", js.code, err, js.stdout)
	}
	want := []map[string]string{{"name": svcName, "region": svcRegion, "url": e.crun.Origin(), "ingress": "all", "invoke": "yes"}}
	if diff := cmp.Diff(want, doc.Services); diff != "" {
		t.Errorf("--json services (-want +got):\n%s", diff)
	}
	checkDebugNoLeak(t, e, r, js)
}
