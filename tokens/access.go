package tokens

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// accessAudience stands in for the audience when only access tokens are wanted.
const accessAudience = "https://run.googleapis.com"

// An AccessSource issues OAuth access tokens with the cloud-platform scope for the principal
// the ID tokens of the same [Options] are minted as, impersonation included, for calling
// Google APIs (the Cloud Run Admin API) as that principal. The token never leaves the package
// as a string: [AccessSource.Authorize] sets it on a request.
type AccessSource struct {
	fetch     accessTokenFunc
	principal string
	label     string
}

// NewAccessSource resolves opts as [NewProvider] does and returns the access-token source of
// the credential found.
func NewAccessSource(ctx context.Context, opts Options) (*AccessSource, error) {
	if opts.Audience == "" {
		// Resolution wants one; access tokens never carry it.
		opts.Audience = accessAudience
	}
	p, err := NewProvider(ctx, opts)
	if err != nil {
		return nil, err
	}
	return AccessSourceOf(p)
}

// AccessSourceOf is the access-token source of a provider made by [NewProvider].
func AccessSourceOf(p Provider) (*AccessSource, error) {
	d := p.Describe()
	principal := firstNonEmpty(d.ImpersonationTarget, d.Principal)
	switch p := p.(type) {
	case *googleAuthProvider:
		if p.access == nil {
			return nil, fmt.Errorf("google-auth (%s) cannot issue access tokens", p.label)
		}
		return &AccessSource{fetch: p.access, principal: principal, label: "google-auth (" + p.label + ")"}, nil
	case *gcloudProvider:
		return &AccessSource{fetch: p.accessToken, principal: principal, label: "gcloud"}, nil
	}
	return nil, errors.New("this token source cannot issue access tokens")
}

// Principal is the email the access tokens act as, when known.
func (a *AccessSource) Principal() string { return a.principal }

// Authorize sets req's Authorization header to a fresh access token.
func (a *AccessSource) Authorize(ctx context.Context, req *http.Request) error {
	at, err := a.fetch(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", a.label, err)
	}
	req.Header.Set("Authorization", "Bearer "+at)
	return nil
}

// accessToken runs `gcloud auth print-access-token`, impersonating when asked.
func (p *gcloudProvider) accessToken(ctx context.Context) (string, error) {
	args := []string{"auth", "print-access-token"}
	if imp := p.e.ImpersonateServiceAccount; imp != "" {
		args = append(args, "--impersonate-service-account="+imp)
	}
	out, err := p.run(ctx, args...)
	if err != nil {
		return "", err
	}
	at := strings.TrimSpace(out)
	if at == "" || strings.ContainsAny(at, " \n") {
		return "", errors.New("gcloud auth print-access-token printed no access token; run it yourself to see why")
	}
	return at, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
