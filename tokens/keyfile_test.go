package tokens

import (
	"context"
	"os"
	"runtime"
	"strings"
	"testing"
)

func TestKeyFileWithBOMIsAccepted(t *testing.T) {
	for _, source := range []string{SourceGoogleAuth, SourceAuto} {
		t.Run(source, func(t *testing.T) {
			te := newTestEnv(t)
			p := te.useADC(te.serviceAccountKey())
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			te.writeFile(p, append([]byte("\ufeff"), b...))
			o := te.options()
			o.Source = source
			c, err := New(context.Background(), o)
			if err != nil {
				t.Fatalf("New with a BOM in the key file: %v", err)
			}
			defer c.Close()
			if _, err := c.Token(context.Background()); err != nil {
				t.Fatalf("Token: %v", err)
			}
		})
	}
}

func TestKeyFileReadableByOthersWarnsOnce(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows files have ACLs, not mode bits")
	}
	tests := []struct {
		desc string
		mode os.FileMode
		key  func(te *testEnv) map[string]any
		warn bool
	}{
		{"owner only", 0o600, (*testEnv).serviceAccountKey, false},
		{"world readable", 0o644, (*testEnv).serviceAccountKey, true},
		{"group readable", 0o640, (*testEnv).serviceAccountKey, true},
		{"others readable, not group", 0o604, (*testEnv).serviceAccountKey, true},
		{"user credentials world readable", 0o644, (*testEnv).authorizedUser, true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			te := newTestEnv(t)
			p := te.useADC(tc.key(te))
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			logs := te.logsAfterTokens(t, SourceAuto, 3)
			n := strings.Count(logs, "readable by other users")
			if want := map[bool]int{true: 1, false: 0}[tc.warn]; n != want {
				t.Fatalf("warned %d times, want %d:\n%s", n, want, logs)
			}
			if tc.warn && !strings.Contains(logs, "level=WARN msg=\"credentials file is readable by other users; restrict it with chmod 600 "+p+"\"") {
				t.Errorf("warning does not name the file and chmod 600:\n%s", logs)
			}
		})
	}
}
