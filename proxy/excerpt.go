package proxy

// Excerpt returns the first 200 characters of body as plain text, for showing an upstream
// answer to a user: HTML tags stripped, white space folded, invalid UTF-8 dropped, and every
// secret given, as well as anything shaped like a JWT, replaced by "[redacted]".
func Excerpt(body []byte, secrets ...string) string {
	for _, s := range secrets {
		body = redact(body, s)
	}
	return excerpt(body)
}
