// Package wire holds what the relay and the debug probe share about the Streamable HTTP
// exchange: header names, what counts as a JSON-RPC response, how an answer is shown to a
// person (Excerpt) and how a failed connection is named (NetError).
package wire

import (
	"bytes"
	"regexp"
	"strings"
	"unicode/utf8"
)

var (
	htmlTag    = regexp.MustCompile(`(?s)<[^>]*>`)
	whitespace = regexp.MustCompile(`\s+`)
	// jwtLike matches anything shaped like a JWT (base64url header starting with {"..., a
	// payload, a signature), so that a server echoing a request never makes a token show up
	// in an error message.
	jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)
)

// Redact replaces every occurrence of secret in body, and anything shaped like a JWT, with
// "[redacted]".
func Redact(body []byte, secret string) []byte {
	if secret != "" {
		body = bytes.ReplaceAll(body, []byte(secret), []byte("[redacted]"))
	}
	return jwtLike.ReplaceAll(body, []byte("[redacted]"))
}

// Excerpt returns the first 200 characters of body as plain text, for showing an upstream
// answer to a person: HTML tags stripped, white space folded, invalid UTF-8 dropped, and every
// secret given, as well as anything shaped like a JWT, replaced by "[redacted]".
func Excerpt(body []byte, secrets ...string) string {
	if len(body) > 4096 {
		body = body[:4096]
	}
	for _, s := range secrets {
		body = Redact(body, s)
	}
	text := htmlTag.ReplaceAllString(string(Redact(body, "")), " ")
	text = strings.TrimSpace(whitespace.ReplaceAllString(strings.ToValidUTF8(text, ""), " "))
	if utf8.RuneCountInString(text) > 200 {
		runes := []rune(text)
		text = string(runes[:200]) + "…"
	}
	return text
}
