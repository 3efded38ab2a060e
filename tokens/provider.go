package tokens

import (
	"context"
	"errors"
	"fmt"
)

// A Provider mints Google ID tokens from one credential.
type Provider interface {
	// Fetch mints a fresh token every time; callers cache (see [Cache]).
	Fetch(ctx context.Context) (Token, error)
	// Describe says which credential is used and why.
	Describe() Description
}

// Description says which credential a [Provider] uses and why; it goes into logs and the
// debug command's report. It never holds a secret.
type Description struct {
	Source              string // "google-auth" or "gcloud"
	CredentialType      string // service_account, authorized_user, impersonated_service_account, external_account, metadata, gcloud
	CredentialFile      string // ADC file path when one was used
	Principal           string // email when known (service account email, gcloud active account, ...)
	ImpersonationTarget string // the service account whose tokens are minted, when impersonating
	// AudienceHonoured is false when the token's aud will not be Options.Audience (gcloud
	// with a user account, authorized_user ADC).
	AudienceHonoured bool
	Why              string // why this credential (and, for auto, this source) was picked
}

// logAttrs returns the description as slog attributes.
func (d Description) logAttrs() []any {
	a := []any{"source", d.Source, "credential_type", d.CredentialType}
	if d.CredentialFile != "" {
		a = append(a, "credential_file", d.CredentialFile)
	}
	if d.Principal != "" {
		a = append(a, "principal", d.Principal)
	}
	if d.ImpersonationTarget != "" {
		a = append(a, "impersonating", d.ImpersonationTarget)
	}
	a = append(a, "audience_honoured", d.AudienceHonoured)
	if d.Why != "" {
		a = append(a, "why", d.Why)
	}
	return a
}

// NewProvider resolves opts.Source into a [Provider]. When no credential is usable the error
// names the command that fixes it; it wraps [ErrNoCredentials] when nothing was found at all.
func NewProvider(ctx context.Context, opts Options) (Provider, error) {
	e := resolveOptions(opts)
	if e.Audience == "" && e.Source != SourceGcloud {
		return nil, errors.New("tokens: an audience is required")
	}
	var (
		p   Provider
		err error
	)
	switch e.Source {
	case SourceGoogleAuth:
		var ga *googleAuthProvider
		ga, err = newGoogleAuth(ctx, e)
		if err == nil {
			p = ga
		}
	case SourceGcloud:
		var g *gcloudProvider
		g, err = newGcloud(ctx, e)
		if err == nil {
			p = g
		}
	case SourceAuto:
		p, err = newAuto(ctx, e)
	default:
		return nil, fmt.Errorf("unknown token source %q: use auto, google-auth or gcloud", e.Source)
	}
	if err != nil {
		return nil, err
	}
	d := p.Describe()
	if d.CredentialType == TypeAuthorizedUser && !d.AudienceHonoured {
		e.Logger.Info("using user credentials from Application Default Credentials: their ID tokens carry the OAuth client id as audience, not "+e.Audience+"; if Cloud Run rejects them, use --token-source gcloud or --impersonate-service-account EMAIL",
			"credential_file", d.CredentialFile)
	}
	e.Logger.Info("token source selected", d.logAttrs()...)
	return p, nil
}

// newAuto picks google-auth when ADC can mint audience-scoped tokens, else gcloud when it is
// installed and logged in, else whatever ADC offers; the Description says why.
func newAuto(ctx context.Context, e env) (Provider, error) {
	ga, gaErr := newGoogleAuth(ctx, e)
	if gaErr == nil && ga.desc.AudienceHonoured {
		ga.desc.Why = "auto: " + ga.desc.Why + ", which can mint tokens for the audience"
		return ga, nil
	}
	g, gErr := newGcloud(ctx, e)
	switch {
	case gErr == nil && gaErr == nil:
		g.desc.Why = fmt.Sprintf("auto: ADC holds user credentials (%s), whose ID tokens carry the OAuth client id as audience; gcloud is installed and logged in as %s", ga.desc.CredentialFile, g.account)
		return g, nil
	case gErr == nil:
		if !errors.Is(gaErr, ErrNoCredentials) {
			e.Logger.Warn("ignoring unusable Application Default Credentials", "error", gaErr)
		}
		g.desc.Why = fmt.Sprintf("auto: no usable Application Default Credentials (%v); gcloud is installed and logged in as %s", gaErr, g.account)
		return g, nil
	case gaErr == nil:
		ga.desc.Why = fmt.Sprintf("auto: %s; gcloud is not usable (%v)", ga.desc.Why, gErr)
		return ga, nil
	case errors.Is(gaErr, ErrNoCredentials):
		return nil, fmt.Errorf("%w; or %s after installing it (gcloud: %v)", gaErr, fixGcloudLogin, gErr)
	default:
		return nil, fmt.Errorf("%w (and gcloud is not usable either: %v)", gaErr, gErr)
	}
}
