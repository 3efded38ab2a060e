package mcpclientcfg

import "testing"

func TestDefaultName(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"https://mysvc-abc123-uc.a.run.app/mcp", "mysvc"},
		{"https://my-svc-2-abc123xyz-ew.a.run.app/mcp", "my-svc-2"},
		{"https://mysvc-123456789012.us-central1.run.app/mcp", "mysvc"},
		{"https://my-svc-123456789012.europe-west1.run.app", "my-svc"},
		{"https://tools.example.com/mcp", "tools"},
		{"http://localhost:8080/mcp", "localhost"},
		{"https://MySvc-abc123-uc.a.run.app/mcp", "mysvc"},
	} {
		got, err := DefaultName(tc.url)
		if err != nil || got != tc.want {
			t.Errorf("DefaultName(%q) = %q, %v; want %q", tc.url, got, err, tc.want)
		}
	}
	for _, bad := range []string{"http://127.0.0.1:8080/mcp", "https:///mcp", "http://[::1]/mcp"} {
		if got, err := DefaultName(bad); err == nil {
			t.Errorf("DefaultName(%q) = %q, want an error asking for --name", bad, got)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"a", "mysvc", "my-svc_2", "A1"} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-a", "my svc", "a.b", "a/b", `a"b`, "ü", string(make([]byte, 65))} {
		if err := ValidateName(bad); err == nil {
			t.Errorf("ValidateName(%q): no error", bad)
		}
	}
}
