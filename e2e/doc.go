// Package e2e holds the end-to-end tests of the mcp-cloudrun-proxy binary and the fakes they
// run against: a fake Cloud Run service and a fake Google token issuer.
package e2e
