package tokens

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// redacted is what every printable form of a [Token] shows instead of the JWT.
const redacted = "[redacted]"

// A Token is a Google ID token (a JWT). Every way of printing it (String, GoString, all fmt
// verbs, slog, JSON, text) shows "[redacted]"; only [Token.Reveal] returns the JWT.
type Token struct {
	d *tokenData
}

type tokenData struct {
	// raw is a closure, not a string: when a Token sits in an unexported struct field, fmt
	// prints it by reflection without calling our methods, and even follows pointers (for
	// bad verbs such as %s on a pointer); a func value only ever prints as an address.
	raw    func() string
	claims Claims
}

// Claims are the fields of an ID token's payload that this program uses. They are decoded
// without checking the signature: they describe our own token, they do not authenticate it.
type Claims struct {
	Issuer          string
	Subject         string
	Email           string
	Audience        string // the first audience when the JWT carries a list
	AuthorizedParty string
	IssuedAt        time.Time
	Expiry          time.Time
}

// ParseToken decodes raw as a JWT and reads its claims. It fails, without quoting raw, when raw
// is not a JWT or has no exp claim.
func ParseToken(raw string) (Token, error) {
	raw = strings.TrimSpace(raw)
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return Token{}, errors.New("not a JWT (expected three dot-separated parts)")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return Token{}, errors.New("JWT payload is not base64url")
	}
	var p struct {
		Iss   string          `json:"iss"`
		Sub   string          `json:"sub"`
		Email string          `json:"email"`
		Aud   json.RawMessage `json:"aud"`
		Azp   string          `json:"azp"`
		Iat   json.Number     `json:"iat"`
		Exp   json.Number     `json:"exp"`
	}
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return Token{}, errors.New("JWT payload is not a JSON object")
	}
	exp, ok := unixTime(p.Exp)
	if !ok {
		return Token{}, errors.New("JWT has no numeric exp claim")
	}
	iat, _ := unixTime(p.Iat)
	c := Claims{
		Issuer:          p.Iss,
		Subject:         p.Sub,
		Email:           p.Email,
		Audience:        firstAudience(p.Aud),
		AuthorizedParty: p.Azp,
		IssuedAt:        iat,
		Expiry:          exp,
	}
	return Token{d: &tokenData{raw: func() string { return raw }, claims: c}}, nil
}

func unixTime(n json.Number) (time.Time, bool) {
	if n == "" {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || f <= 0 {
		return time.Time{}, false
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true
}

func firstAudience(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil && len(list) > 0 {
		return list[0]
	}
	return ""
}

// Reveal returns the raw JWT. Use it only to build the Authorization header.
func (t Token) Reveal() string {
	if t.d == nil {
		return ""
	}
	return t.d.raw()
}

// Claims returns the claims decoded from the JWT payload.
func (t Token) Claims() Claims {
	if t.d == nil {
		return Claims{}
	}
	return t.d.claims
}

// Expiry returns the JWT's exp claim; the zero time for the zero Token.
func (t Token) Expiry() time.Time { return t.Claims().Expiry }

// IsZero reports whether t holds no token.
func (t Token) IsZero() bool { return t.d == nil }

// same reports whether t and u carry the same JWT.
func (t Token) same(u Token) bool {
	return !t.IsZero() && !u.IsZero() && (t.d == u.d || t.d.raw() == u.d.raw())
}

// String implements [fmt.Stringer]; it never shows the JWT.
func (t Token) String() string { return redacted }

// GoString implements [fmt.GoStringer]; it never shows the JWT.
func (t Token) GoString() string { return redacted }

// Format implements [fmt.Formatter] so that every verb (%v, %+v, %#v, %s, %q, %x ...) prints
// "[redacted]".
func (t Token) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// LogValue implements [slog.LogValuer]; it never shows the JWT.
func (t Token) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements [json.Marshaler]; it never shows the JWT.
func (t Token) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }

// MarshalText implements [encoding.TextMarshaler]; it never shows the JWT.
func (t Token) MarshalText() ([]byte, error) { return []byte(redacted), nil }
