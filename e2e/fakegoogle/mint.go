package fakegoogle

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// mintIDToken signs an ID token shaped like Google's and records it under route.
func (s *Server) mintIDToken(route, aud, email, azp string) (string, error) {
	now := time.Now()
	claims := jwt.MapClaims{
		"iss":            Issuer,
		"aud":            aud,
		"azp":            azp,
		"sub":            SubjectOf(email),
		"email":          email,
		"email_verified": true,
		"iat":            now.Unix(),
		"exp":            now.Add(s.tokenLifetime()).Unix(),
		// Real Google tokens differ in iat at least; two tokens minted in the same second
		// must differ too, or revoking one would revoke its successor.
		"jti": randomHex(12),
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = s.kid
	raw, err := t.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("sign ID token: %w", err)
	}
	s.recordIssued(route, raw)
	return raw, nil
}

// mintAccessToken returns an opaque access token for email and records it under route.
func (s *Server) mintAccessToken(route, email string) (string, time.Duration) {
	life := s.tokenLifetime()
	raw := "ya29.fake-" + randomHex(24)
	s.mu.Lock()
	s.accessTokens[raw] = accessGrant{email: email, exp: time.Now().Add(life)}
	s.mu.Unlock()
	s.recordIssued(route, raw)
	return raw, life
}

// principalOfAccessToken returns the email an access token was issued to, if it is valid.
func (s *Server) principalOfAccessToken(raw string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.accessTokens[raw]
	if !ok || time.Now().After(g.exp) {
		return "", false
	}
	if _, rev := s.revoked[hashToken(raw)]; rev {
		return "", false
	}
	return g.email, true
}

// SubjectOf is the stable numeric sub claim the fake gives to email.
func SubjectOf(email string) string {
	sum := sha256.Sum256([]byte(email))
	n := binary.BigEndian.Uint64(sum[:8]) % 1e18
	return "1" + strconv.FormatUint(n+1e18, 10)[1:] + "00"
}
