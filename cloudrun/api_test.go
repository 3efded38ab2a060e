package cloudrun

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeAdmin serves a tiny Admin API v2: one service by number and id, two pages of list.
func fakeAdmin(t *testing.T) (*Client, *[]string) {
	t.Helper()
	var seen []string
	svc := Service{Name: "projects/p1/locations/us-central1/services/hello", URI: "https://hello-123.us-central1.run.app",
		URLs: []string{"https://hello-123.us-central1.run.app", "https://hello-abc-uc.a.run.app"}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/projects/{p}/locations/us-central1/services/{name}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") == "hello" {
			json.NewEncoder(w).Encode(svc)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":{"code":404,"message":"Resource 'nope' of kind 'SERVICE' does not exist.","status":"NOT_FOUND"}}`))
	})
	mux.HandleFunc("GET /v2/projects/p1/locations/-/services", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("pageToken") == "" {
			json.NewEncoder(w).Encode(map[string]any{"services": []Service{{Name: "projects/p1/locations/europe-west4/services/other", URI: "https://other.example"}}, "nextPageToken": "2"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"services": []Service{svc}})
	})
	mux.HandleFunc("POST /v2/projects/p1/locations/us-central1/services/{m}", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"permissions": []string{PermissionInvoke}})
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Authorization"))
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c := &Client{Endpoint: srv.URL, Authorize: func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer at")
		return nil
	}}
	return c, &seen
}

func TestClient(t *testing.T) {
	c, seen := fakeAdmin(t)
	ctx := context.Background()
	svc, err := c.GetService(ctx, Ref{Name: "hello", Region: "us-central1", Project: "p1"})
	if err != nil || svc.Ref() != (Ref{Name: "hello", Region: "us-central1", Project: "p1"}) {
		t.Fatalf("GetService = %+v, %v", svc, err)
	}
	if !svc.HasURL("https://hello-abc-uc.a.run.app/mcp") || svc.HasURL("https://else.a.run.app/mcp") {
		t.Errorf("HasURL does not match the service's urls")
	}
	_, err = c.GetService(ctx, Ref{Name: "nope", Region: "us-central1", Project: "p1"})
	if !IsNotFound(err) || !strings.Contains(err.Error(), "Resource 'nope' of kind 'SERVICE' does not exist. (HTTP 404 NOT_FOUND)") {
		t.Errorf("404: %v", err)
	}
	list, err := c.ListServices(ctx, "p1", "")
	if err != nil || len(list) != 2 {
		t.Fatalf("ListServices = %v, %v; want both pages", list, err)
	}
	can, err := c.CanInvoke(ctx, svc.Ref())
	if err != nil || !can {
		t.Errorf("CanInvoke = %v, %v", can, err)
	}
	for _, s := range *seen {
		if !strings.HasSuffix(s, " Bearer at") {
			t.Errorf("request without the authorizer's header: %s", s)
		}
	}
}

func TestFind(t *testing.T) {
	c, _ := fakeAdmin(t)
	ctx := context.Background()
	for _, tc := range []struct {
		url, project, how, err string
	}{
		{url: "https://hello-123.us-central1.run.app/mcp", how: FoundByURL},
		{url: "https://hello-abc-uc.a.run.app/mcp", project: "p1", how: FoundByList},
		{url: "https://hello-abc-uc.a.run.app/mcp", how: FoundNotFound, err: "no project is set"},
		{url: "https://mcp.example.com/mcp", project: "p1", how: FoundNotFound, err: "none of the 2 services of project p1 has the URL https://mcp.example.com"},
	} {
		svc, how, err := Find(ctx, c, tc.url, tc.project, "")
		if how != tc.how || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("Find(%s, %q) = %q, %v; want %q, %q", tc.url, tc.project, how, err, tc.how, tc.err)
		}
		if err == nil && svc.Ref().Name != "hello" {
			t.Errorf("Find(%s) found %+v", tc.url, svc)
		}
	}
}

func TestResolveURLErrors(t *testing.T) {
	c, _ := fakeAdmin(t)
	ctx := context.Background()
	url, _, err := ResolveURL(ctx, c, "hello", Location{Project: "p1", Region: "us-central1"}, "", "")
	if err != nil || url != "https://hello-123.us-central1.run.app/mcp" {
		t.Errorf("ResolveURL = %q, %v", url, err)
	}
	if url, _, _ = ResolveURL(ctx, c, "hello", Location{Project: "p1", Region: "us-central1"}, "/api/mcp", ""); url != "https://hello-123.us-central1.run.app/api/mcp" {
		t.Errorf("ResolveURL with --path /api/mcp = %q", url)
	}
	_, _, err = ResolveURL(ctx, c, "hello", Location{}, "", "")
	for _, want := range []string{"needs a project", "needs a region"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("no location: %v lacks %q", err, want)
		}
	}
	denied := &Client{Endpoint: c.Endpoint, Authorize: func(context.Context, *http.Request) error { return errors.New("no creds") }}
	if _, _, err = ResolveURL(ctx, denied, "hello", Location{Project: "p1", Region: "us-central1"}, "", ""); err == nil || !strings.Contains(err.Error(), "no creds") {
		t.Errorf("authorizer error not passed on: %v", err)
	}
}

func TestDefaultLocation(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.MkdirAll(filepath.Join(dir, "configurations"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("configurations/config_default", "[core]\naccount = a@b.c\nproject = from-default\n")
	write("configurations/config_work", "[core]\nproject = from-work\n\n[run]\nregion = europe-west4\n")
	for _, tc := range []struct {
		env             map[string]string
		project, region string
		want            Location
	}{
		{env: map[string]string{}, want: Location{Project: "from-default", ProjectFrom: "gcloud configuration default (core/project)"}},
		{env: map[string]string{"CLOUDSDK_ACTIVE_CONFIG_NAME": "work"}, want: Location{Project: "from-work", Region: "europe-west4",
			ProjectFrom: "gcloud configuration work (core/project)", RegionFrom: "gcloud configuration work (run/region)"}},
		{env: map[string]string{"GOOGLE_CLOUD_PROJECT": "g", "CLOUDSDK_RUN_REGION": "asia-east1"}, want: Location{Project: "g", Region: "asia-east1", ProjectFrom: "GOOGLE_CLOUD_PROJECT", RegionFrom: "CLOUDSDK_RUN_REGION"}},
		{env: map[string]string{"GOOGLE_CLOUD_PROJECT": "g", "CLOUDSDK_CORE_PROJECT": "c"}, want: Location{Project: "c", ProjectFrom: "CLOUDSDK_CORE_PROJECT"}},
		{env: map[string]string{"CLOUDSDK_CORE_PROJECT": "c"}, project: "f", region: "r", want: Location{Project: "f", Region: "r", ProjectFrom: "--project", RegionFrom: "--region"}},
	} {
		getenv := func(k string) string {
			if k == "CLOUDSDK_CONFIG" {
				return dir
			}
			return tc.env[k]
		}
		if diff := cmp.Diff(tc.want, DefaultLocation(getenv, tc.project, tc.region)); diff != "" {
			t.Errorf("env %v (-want +got):\n%s", tc.env, diff)
		}
	}
	write("active_config", "work\n")
	if got := DefaultLocation(func(k string) string { return map[string]string{"CLOUDSDK_CONFIG": dir}[k] }, "", ""); got.Project != "from-work" {
		t.Errorf("active_config ignored: %+v", got)
	}
}

func TestJudge(t *testing.T) {
	base := Service{Name: "projects/p/locations/r/services/s", URI: "https://s-1.r.run.app"}
	topics := func(js []Judgment) map[string]Level {
		m := map[string]Level{}
		for _, j := range js {
			m[j.Topic] = j.Level
		}
		return m
	}
	for _, tc := range []struct {
		desc string
		edit func(*Service, *Facts)
		want map[string]Level
	}{
		{"fine", nil, map[string]Level{"ingress": Good, "audience": Good, "invoke": Good}},
		{"internal", func(s *Service, _ *Facts) { s.Ingress = IngressInternalOnly }, map[string]Level{"ingress": Bad, "audience": Good, "invoke": Good}},
		{"lb via run.app", func(s *Service, _ *Facts) { s.Ingress = IngressInternalLoadBalancer }, map[string]Level{"ingress": Bad, "audience": Good, "invoke": Good}},
		{"lb via custom domain", func(s *Service, f *Facts) {
			s.Ingress, s.CustomAudiences, f.URL, f.Audience = IngressInternalLoadBalancer, []string{"https://mcp.example"}, "https://mcp.example/mcp", "https://mcp.example"
		}, map[string]Level{"ingress": Good, "audience": Good, "invoke": Good}},
		{"public", func(s *Service, f *Facts) { s.InvokerIAMDisabled, f.CanInvoke = true, false }, map[string]Level{"ingress": Good, "invoker_iam": Good}},
		{"wrong audience", func(_ *Service, f *Facts) { f.Audience = "https://x" }, map[string]Level{"ingress": Good, "audience": Bad, "invoke": Good}},
		{"user token aud", func(_ *Service, f *Facts) { f.Audience, f.TokenAudience = "https://x", "1.apps.googleusercontent.com" }, map[string]Level{"ingress": Good, "audience": Good, "invoke": Good}},
		{"iap", func(s *Service, _ *Facts) { s.IAPEnabled = true }, map[string]Level{"ingress": Good, "audience": Good, "iap": Doubt, "invoke": Good}},
		{"no invoker", func(_ *Service, f *Facts) { f.CanInvoke = false }, map[string]Level{"ingress": Good, "audience": Good, "invoke": Bad}},
		{"unknown invoker", func(_ *Service, f *Facts) { f.CanInvoke, f.InvokeErr = false, errors.New("403") }, map[string]Level{"ingress": Good, "audience": Good, "invoke": Good}},
	} {
		s := base
		f := Facts{URL: "https://s-1.r.run.app/mcp", Audience: "https://s-1.r.run.app", Principal: "a@b.c", CanInvoke: true}
		if tc.edit != nil {
			tc.edit(&s, &f)
		}
		f.Service = s
		if diff := cmp.Diff(tc.want, topics(Judge(f))); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.desc, diff)
		}
	}
}
