package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
)

// ErrNoCredentials is wrapped by the error [NewProvider] returns when no Google credential
// can be found at all.
var ErrNoCredentials = errors.New("no Google credentials found")

// googleAuthProvider mints ID tokens from Application Default Credentials.
type googleAuthProvider struct {
	mu    sync.Mutex // guards desc.Principal, learnt from the first token for user credentials
	desc  Description
	label string // "service_account key /path", for errors
	fix   string // the remedy appended to fetch errors
	mint  func(ctx context.Context) (string, error)
	// access returns an OAuth access token (cloud-platform scope) for the principal the ID
	// tokens are minted as, impersonation included.
	access accessTokenFunc
}

var _ Provider = (*googleAuthProvider)(nil)

// Describe implements [Provider].
func (p *googleAuthProvider) Describe() Description {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.desc
}

// Fetch implements [Provider]; every call mints a new token.
func (p *googleAuthProvider) Fetch(ctx context.Context) (Token, error) {
	raw, err := p.mint(ctx)
	if err != nil {
		if p.fix != "" {
			return Token{}, fmt.Errorf("google-auth (%s): %w (%s)", p.label, err, p.fix)
		}
		return Token{}, fmt.Errorf("google-auth (%s): %w", p.label, err)
	}
	t, err := ParseToken(raw)
	if err != nil {
		return Token{}, fmt.Errorf("google-auth (%s): the ID token received is unusable: %w", p.label, err)
	}
	if email := t.Claims().Email; email != "" && p.desc.ImpersonationTarget == "" {
		p.mu.Lock()
		if p.desc.Principal == "" {
			p.desc.Principal = email // an authorized_user file does not name its account
		}
		p.mu.Unlock()
	}
	return t, nil
}

// accessTokenFunc returns an OAuth access token for the IAM Credentials API.
type accessTokenFunc func(ctx context.Context) (string, error)

// newGoogleAuth resolves ADC (file, then metadata server) into a provider. The error wraps
// [ErrNoCredentials] when nothing was found.
func newGoogleAuth(ctx context.Context, e env) (*googleAuthProvider, error) {
	loc, err := findADCFile(e)
	switch {
	case err == nil:
		f, err := readCredFile(loc.path)
		if err != nil {
			return nil, err
		}
		warnIfReadableByOthers(e.Logger, loc.path, f)
		p, err := fromCredFile(e, f, loc.path)
		if err != nil {
			return nil, fmt.Errorf("credentials file %s: %w", loc.path, err)
		}
		p.desc.Why = fmt.Sprintf("found %s credentials via %s", f.Type, loc.why)
		return p, nil
	case errors.Is(err, errNoADCFile):
		ok, why := metadataAvailable(ctx, e)
		if ok {
			p, err := newMetadataProvider(ctx, e)
			if err != nil {
				return nil, err
			}
			p.desc.Why = "no ADC file; " + why
			return p, nil
		}
		looked := append(loc.looked, "metadata server ("+why+")")
		return nil, fmt.Errorf("%w: %s (looked at: %s)", ErrNoCredentials, fixADC, strings.Join(looked, ", "))
	default:
		return nil, err
	}
}

// fromCredFile builds the provider for one ADC file: ID tokens (mint) and, from the same
// credentials and impersonation, access tokens for Google APIs (access).
func fromCredFile(e env, f *credFile, path string) (*googleAuthProvider, error) {
	p := &googleAuthProvider{
		desc: Description{
			Source:              SourceGoogleAuth,
			CredentialType:      f.Type,
			CredentialFile:      path,
			ImpersonationTarget: e.ImpersonateServiceAccount,
			AudienceHonoured:    true,
		},
	}
	imp := e.ImpersonateServiceAccount
	switch f.Type {
	case TypeImpersonatedServiceAccount:
		return p, p.fromImpersonatedFile(e, f, path)
	case TypeExternalAccount:
		return p, p.fromExternalAccount(e, f, path)
	case TypeServiceAccount:
		p.desc.Principal = f.ClientEmail
		p.label = "service_account key " + path
		p.fix = "check that the key is not disabled or deleted and that its token_uri is reachable"
	case TypeAuthorizedUser:
		p.label = "authorized_user credentials " + path
		p.fix = "run `gcloud auth application-default login` again"
	}
	access, principal, err := accessTokenFor(e, f)
	if err != nil {
		return nil, err
	}
	if p.desc.Principal == "" {
		p.desc.Principal = principal
	}
	switch {
	case imp != "":
		// --impersonate-service-account with a service_account or authorized_user source.
		p.fix = "check that your credentials may impersonate " + imp
		p.impersonate(e, access, e.iamEndpoint(), imp, nil)
	case f.Type == TypeServiceAccount:
		p.mint, p.access = serviceAccountIDToken(e, f), access
	default:
		p.desc.AudienceHonoured = false
		p.mint, p.access = refreshIDToken(e, f), access
	}
	return p, nil
}

// fromImpersonatedFile handles an impersonated_service_account ADC file.
func (p *googleAuthProvider) fromImpersonatedFile(e env, f *credFile, path string) error {
	base, target, _ := parseImpersonationURL(f.ServiceAccountImpersonationURL)
	src, _ := parseCredJSON(f.SourceCredentials)
	access, principal, err := accessTokenFor(e, src)
	if err != nil {
		return fmt.Errorf("source_credentials: %w", err)
	}
	p.desc.Principal = principal
	p.label = "impersonated_service_account " + target + " from " + path
	imp := e.ImpersonateServiceAccount
	if imp == "" {
		p.desc.ImpersonationTarget = target
		p.fix = "check that the source credentials may impersonate " + target
		p.impersonate(e, access, base, target, f.Delegates)
		return nil
	}
	// Chain: the source impersonates the file's target, which impersonates the flag's.
	p.fix = "check that " + target + " may impersonate " + imp
	p.impersonate(e, access, e.iamEndpointOr(base), imp, append(append([]string(nil), f.Delegates...), target))
	return nil
}

// fromExternalAccount handles an external_account (workload identity federation) file.
func (p *googleAuthProvider) fromExternalAccount(e env, f *credFile, path string) error {
	access, err := externalAccountAccess(e, f)
	if err != nil {
		return err
	}
	p.label = "external_account " + path
	var base, target string
	if f.ServiceAccountImpersonationURL != "" {
		base, target, _ = parseImpersonationURL(f.ServiceAccountImpersonationURL)
	}
	imp := e.ImpersonateServiceAccount
	switch {
	case imp == "" && target == "":
		return errors.New("external_account credentials without service_account_impersonation_url cannot mint ID tokens; pass --impersonate-service-account EMAIL")
	case imp == "":
		p.desc.ImpersonationTarget = target
		p.fix = "check that the federated identity may impersonate " + target
		p.impersonate(e, access, base, target, nil)
	default:
		var delegates []string
		if target != "" {
			delegates = []string{target}
		}
		p.fix = "check that the federated identity may impersonate " + imp
		p.impersonate(e, access, e.iamEndpointOr(base), imp, delegates)
	}
	return nil
}

// impersonate mints both kinds of token as target through IAM Credentials (generateIdToken,
// generateAccessToken) with a fresh source access token each time, so a revoked grant is
// noticed at once.
func (p *googleAuthProvider) impersonate(e env, access accessTokenFunc, base, target string, delegates []string) {
	p.mint = func(ctx context.Context) (string, error) {
		at, err := access(ctx)
		if err != nil {
			return "", fmt.Errorf("getting an access token for the source credentials: %w", err)
		}
		return generateIDToken(ctx, e.httpClient, base, target, e.Audience, delegates, at)
	}
	p.access = func(ctx context.Context) (string, error) {
		at, err := access(ctx)
		if err != nil {
			return "", fmt.Errorf("getting an access token for the source credentials: %w", err)
		}
		return generateAccessToken(ctx, e.httpClient, base, target, delegates, at)
	}
}

// refreshIDToken is the id_token of the refresh-token grant of an authorized_user file; its
// aud is the OAuth client id, whatever the audience asked.
func refreshIDToken(e env, f *credFile) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		r, err := refreshGrant(ctx, e.httpClient, f)
		if err != nil {
			return "", err
		}
		if r.IDToken == "" {
			return "", errors.New("the token endpoint returned no id_token")
		}
		return r.IDToken, nil
	}
}

// serviceAccountIDToken mints with the JWT-bearer grant at the key's token_uri, asking for an
// ID token (a target_audience claim), as Google's idtoken package does for service accounts;
// calling the two-legged provider directly keeps that package's gRPC dependencies out of the
// binary (about 6 MB of resident memory). The provider does not cache: Fetch always mints.
func serviceAccountIDToken(e env, f *credFile) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		tp, err := auth.New2LOTokenProvider(&auth.Options2LO{
			Email:         f.ClientEmail,
			PrivateKey:    []byte(f.PrivateKey),
			PrivateKeyID:  f.PrivateKeyID,
			TokenURL:      tokenURIOr(f.TokenURI),
			PrivateClaims: map[string]any{"target_audience": e.Audience},
			UseIDToken:    true,
			Client:        e.httpClient,
			// An explicit discard logger keeps GOOGLE_SDK_GO_LOGGING_LEVEL from logging
			// request bodies (which hold the signed assertion).
			Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			return "", fmt.Errorf("loading key: %w", err)
		}
		tok, err := tp.Token(ctx)
		if err != nil {
			return "", scrubAuthError(err)
		}
		return tok.Value, nil
	}
}

// accessTokenFor returns an access-token source for a non-impersonated credential, and the
// principal's email when the file names it.
func accessTokenFor(e env, f *credFile) (accessTokenFunc, string, error) {
	switch f.Type {
	case TypeServiceAccount:
		tp, err := auth.New2LOTokenProvider(&auth.Options2LO{
			Email:        f.ClientEmail,
			PrivateKey:   []byte(f.PrivateKey),
			PrivateKeyID: f.PrivateKeyID,
			TokenURL:     tokenURIOr(f.TokenURI),
			Scopes:       []string{cloudPlatformScope},
			Client:       e.httpClient,
			Logger:       slog.New(slog.DiscardHandler),
		})
		if err != nil {
			return nil, "", fmt.Errorf("service_account key: %w", err)
		}
		return func(ctx context.Context) (string, error) {
			t, err := tp.Token(ctx)
			if err != nil {
				return "", scrubAuthError(err)
			}
			return t.Value, nil
		}, f.ClientEmail, nil
	case TypeAuthorizedUser:
		return func(ctx context.Context) (string, error) {
			r, err := refreshGrant(ctx, e.httpClient, f)
			if err != nil {
				return "", fmt.Errorf("%w; run `gcloud auth application-default login` again", err)
			}
			if r.AccessToken == "" {
				return "", errors.New("the token endpoint returned no access_token")
			}
			return r.AccessToken, nil
		}, "", nil
	case TypeExternalAccount:
		a, err := externalAccountAccess(e, f)
		return a, "", err
	default:
		return nil, "", fmt.Errorf("credential type %q cannot be a source of impersonation", f.Type)
	}
}

// externalAccountAccess exchanges the federated credential (STS) for an access token, without
// the file's own impersonation step: we call generateIdToken ourselves.
func externalAccountAccess(e env, f *credFile) (accessTokenFunc, error) {
	var m map[string]any
	if err := json.Unmarshal(f.raw, &m); err != nil {
		return nil, fmt.Errorf("malformed external_account file (%s)", jsonErrSummary(err))
	}
	delete(m, "service_account_impersonation_url")
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	creds, err := credentials.NewCredentialsFromJSON(credentials.ExternalAccount, b, &credentials.DetectOptions{
		Scopes: []string{cloudPlatformScope},
		Client: e.httpClient,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, fmt.Errorf("external_account credentials: %w", scrubAuthError(err))
	}
	return func(ctx context.Context) (string, error) {
		t, err := creds.Token(ctx)
		if err != nil {
			return "", fmt.Errorf("workload identity federation token exchange: %w", scrubAuthError(err))
		}
		return t.Value, nil
	}, nil
}

// scrubAuthError keeps the auth library's message but redacts anything token-like its
// response excerpt may carry.
func scrubAuthError(err error) error {
	if err == nil {
		return nil
	}
	s := &scrubbedError{msg: strings.ReplaceAll(redactSecrets(err.Error()), "\n", " ")}
	// Keep cancellation visible to errors.Is without exposing the original text.
	for _, target := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, target) {
			s.cause = target
		}
	}
	return s
}

type scrubbedError struct {
	msg   string
	cause error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.cause }

// iamEndpointOr is the generateIdToken base for --impersonate-service-account: the override
// env var, else fallback (the host of the ADC file's own impersonation URL).
func (e env) iamEndpointOr(fallback string) string {
	if v := e.getenv(envIAMEndpoint); v != "" {
		return v
	}
	if fallback != "" {
		return fallback
	}
	return defaultIAMEndpoint
}
