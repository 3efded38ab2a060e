package tokens

import (
	"context"
	"net/http"
	"strings"
)

// HeaderAuthorizer puts the cache's token on HTTP requests as "Authorization: Bearer ...", so
// that a caller never holds the token as a string of its own: it hands over headers and
// reports the headers the server refused.
type HeaderAuthorizer struct{ c *Cache }

// Authorizer returns the cache as a [HeaderAuthorizer].
func (c *Cache) Authorizer() HeaderAuthorizer { return HeaderAuthorizer{c} }

// Authorize sets the Authorization header of h to the current token.
func (a HeaderAuthorizer) Authorize(ctx context.Context, h http.Header) error {
	t, err := a.c.Token(ctx)
	if err != nil {
		return err
	}
	h.Set("Authorization", "Bearer "+t.Reveal())
	return nil
}

// Rejected tells the cache that the server refused the token in h's Authorization header; a
// new fetch starts only if that is still the current token.
func (a HeaderAuthorizer) Rejected(h http.Header) {
	sent, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	if !ok || sent == "" {
		return
	}
	a.c.rejected(func(cur Token) bool { return !cur.IsZero() && cur.Reveal() == sent })
}
