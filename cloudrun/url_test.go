package cloudrun

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url                   string
		name, region, project string
		deterministic         bool
		why                   string // substring of Why
	}{
		{url: "https://hello-123456789012.us-central1.run.app/mcp", name: "hello", region: "us-central1", project: "123456789012", deterministic: true},
		{url: "https://my-mcp-svc-123456789012.europe-west4.run.app", name: "my-mcp-svc", region: "europe-west4", project: "123456789012", deterministic: true},
		{url: "https://my-svc-abcdefghij-uc.a.run.app/mcp", name: "my-svc", why: `region code "uc"`},
		{url: "https://MY-SVC-abcdefghij-uc.a.run.app./mcp", name: "my-svc", why: `region code "uc"`},
		{url: "https://mcp.example.com/mcp", why: "not a run.app address"},
		{url: "http://127.0.0.1:8080/mcp", why: "not a run.app address"},
		{url: "https://weird.run.app/mcp", why: "SERVICE-PROJECT_NUMBER.REGION"},
		{url: "https://a.b.c.run.app/mcp", why: "SERVICE-PROJECT_NUMBER.REGION"},
		{url: "https://svc-x.us-central1.run.app/mcp", why: "SERVICE-PROJECT_NUMBER.REGION"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			got := ParseURL(tc.url)
			want := Ref{Name: tc.name, Region: tc.region, Project: tc.project}
			if got.Ref != want || got.Deterministic != tc.deterministic || !strings.Contains(got.Why, tc.why) {
				t.Errorf("ParseURL(%q) = %+v, want %+v deterministic %v why ~%q", tc.url, got, want, tc.deterministic, tc.why)
			}
			if ServiceName(tc.url) != tc.name {
				t.Errorf("ServiceName(%q) = %q, want %q", tc.url, ServiceName(tc.url), tc.name)
			}
		})
	}
}

func TestMember(t *testing.T) {
	for email, want := range map[string]string{
		"sa@p.iam.gserviceaccount.com": "serviceAccount:sa@p.iam.gserviceaccount.com",
		"alice@example.com":            "user:alice@example.com",
		"":                             "user:EMAIL",
	} {
		if got := Member(email); got != want {
			t.Errorf("Member(%q) = %q, want %q", email, got, want)
		}
	}
}

func TestOriginAndJoinPath(t *testing.T) {
	for in, want := range map[string]string{
		"https://Svc-X.a.run.app/mcp":   "https://svc-x.a.run.app",
		"https://svc.a.run.app:443/mcp": "https://svc.a.run.app",
		"http://127.0.0.1:8080/mcp":     "http://127.0.0.1:8080",
		"http://[::1]:80/":              "http://[::1]",
	} {
		if got := Origin(in); got != want {
			t.Errorf("Origin(%q) = %q, want %q", in, got, want)
		}
	}
	for _, tc := range [][3]string{
		{"https://s.a.run.app", "", "https://s.a.run.app/mcp"},
		{"https://s.a.run.app/", "/sse", "https://s.a.run.app/sse"},
		{"https://s.a.run.app", "api/mcp", "https://s.a.run.app/api/mcp"},
	} {
		if got := JoinPath(tc[0], tc[1]); got != tc[2] {
			t.Errorf("JoinPath(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
}

func TestGrantCommands(t *testing.T) {
	r := Ref{Name: "hello", Region: "us-central1", Project: "p1"}
	for got, want := range map[string]string{
		GrantInvoker(r, "alice@example.com"):              "gcloud run services add-iam-policy-binding hello --region us-central1 --project p1 --member=user:alice@example.com --role=roles/run.invoker",
		GrantInvoker(Ref{}, ""):                           "gcloud run services add-iam-policy-binding SERVICE --region REGION --project PROJECT --member=user:EMAIL --role=roles/run.invoker",
		AddCustomAudience(r, "https://mcp.example"):       "gcloud run services update hello --region us-central1 --project p1 --add-custom-audiences=https://mcp.example",
		GrantViewer("p1", "sa@p.iam.gserviceaccount.com"): "gcloud projects add-iam-policy-binding p1 --member=serviceAccount:sa@p.iam.gserviceaccount.com --role=roles/run.viewer",
	} {
		if got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}
