package tokens

import (
	"regexp"
	"strings"
)

// secretPatterns match things that look like credentials: JWTs (ID tokens, assertions),
// Google OAuth access tokens (ya29.), refresh tokens (1//), and JSON/form fields that carry
// secrets.
var secretPatterns = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*`), redacted},
	{regexp.MustCompile(`ya29\.[A-Za-z0-9._-]+`), redacted},
	{regexp.MustCompile(`1//[A-Za-z0-9._-]+`), redacted},
	{regexp.MustCompile(`"(access_token|id_token|refresh_token|client_secret|assertion|token|accessToken|private_key|subject_token)"(\s*:\s*)"[^"]*"`), `"$1"$2"` + redacted + `"`},
	{regexp.MustCompile(`\b(access_token|id_token|refresh_token|client_secret|assertion|token|subject_token)=[^&\s"]+`), "$1=" + redacted},
	{regexp.MustCompile(`(?i)\b(Bearer\s+)[A-Za-z0-9._~+/=-]+`), "${1}" + redacted},
	{regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----[^-]*(-----END [A-Z ]*PRIVATE KEY-----)?`), redacted},
}

// redactSecrets replaces anything token-like in s (text from gcloud's stderr or an HTTP error
// body) with [redacted], and trims it to a readable length.
func redactSecrets(s string) string {
	for _, p := range secretPatterns {
		s = p.re.ReplaceAllString(s, p.repl)
	}
	s = strings.TrimSpace(s)
	const max = 600
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}
