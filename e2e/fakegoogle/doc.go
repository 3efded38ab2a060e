// Package fakegoogle is a fake of the Google endpoints that mint ID tokens, for tests that must
// never reach real Google: the OAuth token endpoint (JWT-bearer grant for service-account keys,
// refresh-token grant for authorized_user credentials), the IAM Credentials generateIdToken and
// generateAccessToken methods, the GCE/Cloud Run metadata server, and the JWKS that lets a
// verifier check the RS256 signatures of the ID tokens it issues.
//
// A [Server] listens on two loopback ports (the API and the metadata server). [Server.Setup]
// writes credential files that point at it (service-account key, authorized_user ADC,
// impersonated_service_account ADC, a config for the fakegcloud command) and returns the
// environment a process needs to find them. Counters report how many tokens each route issued,
// and [Server.RevokeAll] invalidates every token issued so far.
//
// The package knows nothing of MCP or of Cloud Run; fakecloudrun uses it to verify tokens.
package fakegoogle
