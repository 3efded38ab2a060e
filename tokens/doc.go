// Package tokens turns a user's Google credentials into ID tokens for a Cloud Run audience
// and keeps a valid one cached, refreshing it ahead of expiry. It knows nothing of MCP.
//
// # Sources
//
// [NewProvider] resolves [Options.Source]:
//
//   - "google-auth": Application Default Credentials, found as Google's libraries find them
//     (GOOGLE_APPLICATION_CREDENTIALS, then gcloud's well-known file in $CLOUDSDK_CONFIG,
//     %APPDATA%\gcloud or $HOME/.config/gcloud, then the metadata server:
//     GCE_METADATA_HOST, or a one-second probe of 169.254.169.254 unless NO_GCE_CHECK=true).
//     service_account keys use the JWT-bearer grant at the key's token_uri with a
//     target_audience claim, through cloud.google.com/go/auth's two-legged token provider
//     (not the idtoken package, whose gRPC dependencies cost about 6 MB of resident memory);
//     impersonated_service_account and external_account files call IAM
//     Credentials generateIdToken at the host of their service_account_impersonation_url
//     with the source credentials' access token; authorized_user files use the refresh-token
//     grant, whose id_token carries the OAuth client id as audience
//     ([Description.AudienceHonoured] is false).
//   - "gcloud": `gcloud auth print-identity-token`, with --audiences only for service
//     accounts and impersonation.
//   - "auto" (or ""): google-auth when ADC can mint tokens for the audience, else gcloud when
//     it is installed and logged in, else whatever ADC offers. [Description.Why] says why.
//
// [Options.ImpersonateServiceAccount] mints as a service account: generateIdToken at
// MCP_CLOUDRUN_PROXY_IAM_ENDPOINT (default https://iamcredentials.googleapis.com) for
// google-auth, gcloud --impersonate-service-account for gcloud.
//
// # Access tokens
//
// [NewAccessSource] (or [AccessSourceOf] a provider) issues OAuth access tokens with the
// cloud-platform scope for the same principal, impersonation included (IAM Credentials
// generateAccessToken, gcloud auth print-access-token --impersonate-service-account), for
// the Cloud Run Admin API. [AccessSource.Authorize] sets one on a request, so the token never
// leaves the package as a string.
//
// # Caching
//
// A [Cache] serves the current token without waiting, shares one fetch among concurrent
// callers, refreshes in the background [Options.RefreshMargin] before the JWT's own exp
// claim (at half the lifetime when the margin is not shorter than it), retries failed
// refreshes with backoff while the current token is valid, and refetches after
// [Cache.Rejected] only if the rejected token is still current.
//
//	cache, err := tokens.New(ctx, tokens.Options{Audience: "https://svc-xyz.a.run.app", RefreshMargin: time.Minute})
//	if err != nil {
//		return err // says what to run, e.g. `gcloud auth application-default login`
//	}
//	defer cache.Close()
//	tok, err := cache.Token(ctx)
//	req.Header.Set("Authorization", "Bearer "+tok.Reveal())
//
// # Secrets
//
// A [Token] prints as "[redacted]" in every format, log and JSON; only [Token.Reveal] gives
// the JWT. Errors and logs never carry a token, assertion, refresh token or client secret:
// text from gcloud and from error answers is redacted of anything token-like.
package tokens
