package tokens

import (
	"regexp"
	"strings"
)

// secretPatterns match things that look like credentials: JWTs (ID tokens, assertions),
// Google OAuth access tokens (ya29.), refresh tokens (1//), and JSON/form fields that carry
// secrets.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*`),
	regexp.MustCompile(`ya29\.[A-Za-z0-9._-]+`),
	regexp.MustCompile(`1//[A-Za-z0-9._-]+`),
	regexp.MustCompile(`(?i)("?(?:access_token|id_token|refresh_token|client_secret|assertion|token|accessToken|private_key)"?\s*[:=]\s*"?)[^"&\s,}]+`),
	regexp.MustCompile(`(?i)(Bearer\s+)[A-Za-z0-9._~+/=-]+`),
}

// redactSecrets replaces anything token-like in s (text from gcloud's stderr or an HTTP error
// body) with [redacted], and trims it to a readable length.
func redactSecrets(s string) string {
	for i, re := range secretPatterns {
		if i >= 3 {
			s = re.ReplaceAllString(s, "${1}"+redacted)
			continue
		}
		s = re.ReplaceAllString(s, redacted)
	}
	s = strings.TrimSpace(s)
	const max = 600
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}
