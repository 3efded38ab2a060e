package tokens

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseTokenClaims(t *testing.T) {
	raw := mintJWT(map[string]any{
		"iss": "https://accounts.google.com", "sub": "42", "email": "a@b.c", "aud": testAudience,
		"azp": "azp-1", "iat": 1_900_000_000, "exp": 1_900_003_600,
	})
	tok, err := ParseToken(raw + "\n")
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{
		Issuer: "https://accounts.google.com", Subject: "42", Email: "a@b.c", Audience: testAudience,
		AuthorizedParty: "azp-1", IssuedAt: time.Unix(1_900_000_000, 0), Expiry: time.Unix(1_900_003_600, 0),
	}
	if diff := cmp.Diff(want, tok.Claims()); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	if !tok.Expiry().Equal(want.Expiry) || tok.Reveal() != raw || tok.IsZero() {
		t.Errorf("Expiry/Reveal/IsZero wrong")
	}
	listAud, err := ParseToken(mintJWT(map[string]any{"aud": []string{"x", "y"}, "exp": 2_000_000_000}))
	if err != nil || listAud.Claims().Audience != "x" {
		t.Errorf("list aud: %v %q", err, listAud.Claims().Audience)
	}
}

func TestParseTokenErrorsDoNotQuoteTheInput(t *testing.T) {
	noExp := mintJWT(map[string]any{"aud": "x"})
	for _, raw := range []string{"", "secret-not-a-jwt", "eyJhbGciOi.###.sig", noExp} {
		_, err := ParseToken(raw)
		if err == nil {
			t.Errorf("ParseToken(%.10q) succeeded", raw)
			continue
		}
		if raw != "" && strings.Contains(err.Error(), raw) || strings.Contains(err.Error(), "eyJ") || strings.Contains(err.Error(), "secret") {
			t.Errorf("error quotes the input: %v", err)
		}
	}
}

func TestTokenNeverPrints(t *testing.T) {
	raw := mintJWT(map[string]any{"aud": testAudience, "exp": 2_000_000_000})
	tok, err := ParseToken(raw)
	if err != nil {
		t.Fatal(err)
	}
	type holder struct {
		Exported   Token
		unexported Token
		Ptr        *Token
	}
	h := holder{Exported: tok, unexported: tok, Ptr: &tok}
	var outs []string
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		outs = append(outs, fmt.Sprintf(f, tok), fmt.Sprintf(f, h), fmt.Sprintf(f, &h))
	}
	outs = append(outs, tok.String(), tok.GoString(), fmt.Sprint(tok), fmt.Sprintln(tok, []Token{tok}, map[string]Token{"k": tok}))
	var logs bytes.Buffer
	for _, hnd := range []slog.Handler{slog.NewTextHandler(&logs, nil), slog.NewJSONHandler(&logs, nil)} {
		l := slog.New(hnd)
		l.Info("token", "token", tok, "holder", h, "any", any(tok))
		l.Info("token", slog.Any("token", tok), slog.Group("g", "t", tok))
	}
	outs = append(outs, logs.String())
	j, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	txt, _ := tok.MarshalText()
	outs = append(outs, string(j), string(txt))
	all := strings.Join(outs, "\n")
	parts := strings.Split(raw, ".")
	for _, p := range parts {
		if strings.Contains(all, p) {
			t.Fatalf("a token part leaked in:\n%s", all)
		}
	}
	if !strings.Contains(fmt.Sprintf("%+v", tok), "[redacted]") || !strings.Contains(logs.String(), "[redacted]") {
		t.Errorf("expected [redacted] in output:\n%s", all)
	}
}

func TestRedactSecrets(t *testing.T) {
	jwt := mintJWT(map[string]any{"exp": 1})
	tests := []struct{ in, want string }{
		{"auth: cannot fetch token: 503", "auth: cannot fetch token: 503"},
		{"got " + jwt + " back", "got [redacted] back"},
		{`{"access_token":"abc","token": "def","error":"x"}`, `{"access_token":"[redacted]","token": "[redacted]","error":"x"}`},
		{"refresh_token=1//xyz&client_secret=s3cr3t", "refresh_token=[redacted]&client_secret=[redacted]"},
		{"Authorization: Bearer ya29.abc-def", "Authorization: Bearer [redacted]"},
		{"key: -----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n", "key: [redacted]"},
	}
	for _, tc := range tests {
		if got := redactSecrets(tc.in); got != tc.want {
			t.Errorf("redactSecrets(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
