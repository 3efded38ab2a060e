package fakegoogle

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

func (s *Server) apiHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", s.serveToken)
	mux.HandleFunc("GET /oauth2/v3/certs", s.serveJWKS)
	mux.HandleFunc("POST /v1/projects/-/serviceAccounts/{nameAndMethod}", s.serveIAM)
	s.runHandlers(mux)
	return s.logged(mux)
}

// statusRecorder remembers the status a handler wrote, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (s *Server) logged(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		s.logRequest(r.Context(), r, rec.status)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// oauthError answers like Google's token endpoint.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// apiError answers like a Google Cloud API (IAM Credentials).
func apiError(w http.ResponseWriter, status int, statusName, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": status, "message": msg, "status": statusName}})
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if status, ok := s.takeFailure(); ok {
		oauthError(w, status, "temporarily_unavailable", "injected failure")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case jwtBearerGrant:
		s.serveJWTBearer(w, r.PostForm.Get("assertion"))
	case "refresh_token":
		clientID, clientSecret, ok := r.BasicAuth()
		if !ok {
			clientID, clientSecret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		s.serveRefresh(w, r.PostForm.Get("refresh_token"), clientID, clientSecret)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q is not supported", gt))
	}
}

// serveJWTBearer checks a service account's signed assertion and answers with an ID token
// (target_audience claim) or an access token (scope claim).
func (s *Server) serveJWTBearer(w http.ResponseWriter, assertion string) {
	var email string
	tok, err := jwt.Parse(assertion, func(t *jwt.Token) (any, error) {
		iss, err := t.Claims.GetIssuer()
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		key := s.saKeys[iss]
		s.mu.Unlock()
		if key == nil {
			return nil, fmt.Errorf("unknown service account %q", iss)
		}
		email = iss
		return key, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(), jwt.WithLeeway(30*time.Second))
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	claims := tok.Claims.(jwt.MapClaims)
	aud, _ := claims.GetAudience()
	if !containsAny(aud, s.TokenURL(), "https://oauth2.googleapis.com/token", "https://www.googleapis.com/oauth2/v4/token") {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe; check aud.")
		return
	}
	if ta, _ := claims["target_audience"].(string); ta != "" {
		id, err := s.mintIDToken(RouteJWTBearerIDToken, ta, email, SubjectOf(email))
		if err != nil {
			oauthError(w, http.StatusInternalServerError, "internal_failure", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"id_token": id})
		return
	}
	if scope, _ := claims["scope"].(string); scope != "" {
		at, life := s.mintAccessToken(RouteJWTBearerAccessToken, email)
		writeJSON(w, http.StatusOK, map[string]any{"access_token": at, "expires_in": int(life.Seconds()), "token_type": "Bearer"})
		return
	}
	oauthError(w, http.StatusBadRequest, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
}

func (s *Server) serveRefresh(w http.ResponseWriter, refreshToken, clientID, clientSecret string) {
	s.mu.Lock()
	g, ok := s.refreshTokens[refreshToken]
	s.mu.Unlock()
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
		return
	}
	if g.clientID != clientID || g.clientSecret != clientSecret {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Unauthorized")
		return
	}
	at, life := s.mintAccessToken(RouteRefreshToken, g.email)
	id, err := s.mintIDToken(RouteRefreshToken, g.clientID, g.email, g.clientID)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "internal_failure", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": at,
		"expires_in":   int(life.Seconds()),
		"token_type":   "Bearer",
		"scope":        "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/cloud-platform",
		"id_token":     id,
	})
}

// serveIAM implements generateIdToken and generateAccessToken of IAM Credentials.
func (s *Server) serveIAM(w http.ResponseWriter, r *http.Request) {
	email, method, ok := strings.Cut(r.PathValue("nameAndMethod"), ":")
	if !ok || email == "" {
		apiError(w, http.StatusNotFound, "NOT_FOUND", "unknown method")
		return
	}
	if status, ok := s.takeFailure(); ok {
		apiError(w, status, "UNAVAILABLE", "injected failure")
		return
	}
	bearer, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found {
		apiError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request is missing required authentication credential. Expected OAuth 2 access token.")
		return
	}
	if _, ok := s.principalOfAccessToken(bearer); !ok {
		apiError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token.")
		return
	}
	switch method {
	case "generateIdToken":
		var body struct {
			Audience     string `json:"audience"`
			IncludeEmail bool   `json:"includeEmail"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Audience == "" {
			apiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "audience is required")
			return
		}
		id, err := s.mintIDToken(RouteGenerateIDToken, body.Audience, email, SubjectOf(email))
		if err != nil {
			apiError(w, http.StatusInternalServerError, "INTERNAL", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"token": id})
	case "generateAccessToken":
		at, life := s.mintAccessToken(RouteGenerateAccessToken, email)
		writeJSON(w, http.StatusOK, map[string]string{
			"accessToken": at,
			"expireTime":  time.Now().Add(life).UTC().Format(time.RFC3339),
		})
	default:
		apiError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("unknown method %q", method))
	}
}

func (s *Server) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"keys": []any{jwk(s.kid, &s.key.PublicKey)}})
}

func jwk(kid string, k *rsa.PublicKey) map[string]string {
	return map[string]string{
		"kty": "RSA",
		"alg": "RS256",
		"use": "sig",
		"kid": kid,
		"n":   base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
	}
}

func containsAny(have []string, want ...string) bool {
	for _, h := range have {
		for _, w := range want {
			if h == w {
				return true
			}
		}
	}
	return false
}

// metadataHandler serves the subset of the GCE metadata server that token libraries use.
func (s *Server) metadataHandler() http.Handler {
	mux := http.NewServeMux()
	const sa = "/computeMetadata/v1/instance/service-accounts/"
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		// Detection probes look only at this header.
		w.Header().Set("Metadata-Flavor", "Google")
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET "+sa+"{account}/identity", s.mdGuard(func(w http.ResponseWriter, r *http.Request) {
		aud := r.URL.Query().Get("audience")
		if aud == "" {
			http.Error(w, "non-empty audience parameter required", http.StatusBadRequest)
			return
		}
		if status, ok := s.takeFailure(); ok {
			http.Error(w, "injected failure", status)
			return
		}
		email := s.opts.MetadataEmail
		id, err := s.mintIDToken(RouteMetadataIdentity, aud, email, SubjectOf(email))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(id))
	}))
	mux.HandleFunc("GET "+sa+"{account}/token", s.mdGuard(func(w http.ResponseWriter, _ *http.Request) {
		if status, ok := s.takeFailure(); ok {
			http.Error(w, "injected failure", status)
			return
		}
		at, life := s.mintAccessToken(RouteMetadataToken, s.opts.MetadataEmail)
		writeJSON(w, http.StatusOK, map[string]any{"access_token": at, "expires_in": int(life.Seconds()), "token_type": "Bearer"})
	}))
	mux.HandleFunc("GET "+sa+"{account}/email", s.mdGuard(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(s.opts.MetadataEmail))
	}))
	mux.HandleFunc("GET /computeMetadata/v1/project/project-id", s.mdGuard(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("fake-project"))
	}))
	mux.HandleFunc("GET /computeMetadata/v1/universe/universe-domain", s.mdGuard(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("googleapis.com"))
	}))
	return s.logged(mux)
}

// mdGuard enforces the Metadata-Flavor header and the account name, as the real server does.
func (s *Server) mdGuard(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Metadata-Flavor", "Google")
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "Missing required header: Metadata-Flavor", http.StatusForbidden)
			return
		}
		if acct := r.PathValue("account"); acct != "" && acct != "default" && acct != s.opts.MetadataEmail {
			http.Error(w, "service account not found", http.StatusNotFound)
			return
		}
		h(w, r)
	}
}
