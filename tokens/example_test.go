package tokens_test

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/tokens"
)

// A Token's claims are readable; the JWT itself shows only through Reveal.
func ExampleToken() {
	// An unsigned stand-in for a Google ID token.
	const jwt = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." +
		"eyJhdWQiOiJodHRwczovL3N2Yy14eXouYS5ydW4uYXBwIiwiZW1haWwiOiJzYUBwcm9qLmlhbS5nc2VydmljZWFjY291bnQuY29tIiwiZXhwIjoxOTAwMDAzNjAwfQ." +
		"c2ln"
	tok, err := tokens.ParseToken(jwt)
	if err != nil {
		panic(err)
	}
	fmt.Println(tok.Claims().Audience, tok.Claims().Email, tok.Expiry().Unix())
	fmt.Printf("%v %+v %#v %s\n", tok, tok, tok, tok)

	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	log.Info("fetched", "token", tok)
	// Output:
	// https://svc-xyz.a.run.app sa@proj.iam.gserviceaccount.com 1900003600
	// [redacted] [redacted] [redacted] [redacted]
	// level=INFO msg=fetched token=[redacted]
}
