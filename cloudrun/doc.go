// Package cloudrun is what mcp-cloudrun-proxy knows about Google Cloud Run, in one place: how
// service URLs are built (SERVICE-PROJECT_NUMBER.REGION.run.app, SERVICE-HASH-CODE.a.run.app),
// which audiences a service accepts, IAM member types and the gcloud commands that grant
// access, where the default project and region come from (flags, CLOUDSDK_* variables, gcloud's
// active configuration), and a small client of the Cloud Run Admin API v2 (services get and
// list, testIamPermissions, getIamPolicy) that resolves --service to its URL and reads the
// settings debug judges: ingress, invokerIamDisabled, customAudiences and iapEnabled.
//
// It knows nothing of MCP and mints no tokens: the Admin API client takes an authorizer that
// sets the request's Authorization header (package tokens provides one), so no token crosses
// into this package as a string.
package cloudrun
