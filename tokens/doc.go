// Package tokens turns a user's Google credentials into ID tokens for a Cloud Run audience
// and keeps a valid one cached, refreshing it ahead of expiry.
//
// It knows nothing of MCP.
package tokens
