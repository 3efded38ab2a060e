package fakecloudrun

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakegoogle"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/faults"
)

// gate lets a request through only with a valid ID token from the fake Google whose aud fits
// and whose principal may invoke, as Cloud Run IAM does. Missing credentials and a denied
// principal get 403, a token that does not verify gets 401.
func (s *Server) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, managed := s.runService()
		if managed && svc.Ingress != "" && svc.Ingress != fakegoogle.IngressAll {
			s.rec.reject("ingress")
			faults.WriteError(w, r, http.StatusNotFound)
			return
		}
		if managed && svc.InvokerIAMDisabled {
			next.ServeHTTP(w, r)
			return
		}
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || raw == "" {
			s.rec.reject("missing")
			faults.WriteError(w, r, http.StatusForbidden)
			return
		}
		claims, reason := s.verify(raw, svc.CustomAudiences)
		if reason != "" {
			s.rec.reject(reason)
			faults.WriteError(w, r, http.StatusUnauthorized)
			return
		}
		email, _ := claims["email"].(string)
		s.mu.Lock()
		invokers := s.invokers
		s.mu.Unlock()
		denied := invokers != nil && !slices.Contains(invokers, email)
		if managed {
			denied = !svc.MayInvoke(email)
		}
		if denied {
			s.rec.reject("not-invoker")
			faults.WriteError(w, r, http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// verify checks raw and returns its claims, or a short reason it was refused.
func (s *Server) verify(raw string, custom []string) (jwt.MapClaims, string) {
	g := s.opts.Google
	tok, err := jwt.Parse(raw, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != g.KeyID() {
			return nil, errors.New("unknown kid")
		}
		return g.PublicKey(), nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, "expired"
	case err != nil:
		return nil, "invalid"
	}
	claims := tok.Claims.(jwt.MapClaims)
	if iss, _ := claims.GetIssuer(); iss != fakegoogle.Issuer && iss != "accounts.google.com" {
		return nil, "issuer"
	}
	if g.IsRevoked(raw) {
		return nil, "revoked"
	}
	aud, _ := claims.GetAudience()
	if len(aud) != 1 || !(s.audienceOK(aud[0]) || slices.Contains(custom, aud[0])) {
		return nil, "audience"
	}
	return claims, ""
}

func (s *Server) audienceOK(aud string) bool {
	if aud == s.origin || aud == s.origin+"/" || slices.Contains(s.opts.Audiences, aud) {
		return true
	}
	if s.opts.RejectClientIDAudiences {
		return false
	}
	return aud == fakegoogle.GcloudClientID || aud == fakegoogle.ADCClientID
}

// runService is the Admin API service the gate obeys, when Options.RunService names one.
func (s *Server) runService() (fakegoogle.RunService, bool) {
	if s.opts.RunService == "" {
		return fakegoogle.RunService{}, false
	}
	return s.opts.Google.RunService(s.opts.RunService)
}
