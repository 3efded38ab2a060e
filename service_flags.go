package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/cloudrun"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/tokens"
)

// validateService checks --service against --url and the other service flags.
func (f *connectionFlags) validateService() error {
	switch {
	case f.Service != "" && f.URL != "":
		return errors.New("--service and --url (or MCP_CLOUDRUN_PROXY_URL) are mutually exclusive: give the service's name with --service, or its URL with --url")
	case f.Service != "" && f.RefreshMargin < 0:
		return fmt.Errorf("--refresh-margin %v: must not be negative", f.RefreshMargin)
	}
	return nil
}

// resolveURL turns --service into --url through the Cloud Run Admin API, with an access
// token from the same credentials (impersonation included), and clears the service flags so
// that what follows (and an entry install-config writes) sees only --url. It returns the
// service read, or nil when --service was not given.
func (f *connectionFlags) resolveURL(ctx context.Context, log *slog.Logger) (*cloudrun.Service, error) {
	if f.Service == "" {
		return nil, nil
	}
	src, err := tokens.NewAccessSource(ctx, f.tokenOptions(log))
	if err != nil {
		return nil, fmt.Errorf("--service %s: credentials for the Cloud Run Admin API: %w", f.Service, err)
	}
	loc := cloudrun.DefaultLocation(os.Getenv, f.GCPProject, f.Region)
	url, svc, err := cloudrun.ResolveURL(ctx, adminClient(src), f.Service, loc, f.Path, src.Principal())
	if err != nil {
		return nil, err
	}
	log.Info("resolved --service", "service", f.Service, "region", loc.Region, "region_from", loc.RegionFrom,
		"project", loc.Project, "project_from", loc.ProjectFrom, "url", url)
	f.URL, f.Service, f.Region, f.GCPProject, f.Path = url, "", "", "", ""
	return &svc, f.Validate()
}

// adminClient is the Cloud Run Admin API client acting as src's principal.
func adminClient(src *tokens.AccessSource) *cloudrun.Client {
	return &cloudrun.Client{
		Endpoint:  cloudrun.Endpoint(os.Getenv),
		Authorize: src.Authorize,
		UserAgent: "mcp-cloudrun-proxy/" + version,
	}
}

// resolveInstall resolves --service for install-config and says on stdout which URL the entry
// will carry; it returns the service name (the entry's default name). --remove needs no URL.
func (f *connectionFlags) resolveInstall(ctx context.Context, s *streams, remove bool) (string, error) {
	name := f.Service
	if name == "" || remove {
		// Only --service needs them; the entry's run would ignore them.
		f.Region, f.GCPProject, f.Path = "", "", ""
		return name, nil
	}
	svc, err := f.resolveURL(ctx, newLogger(s.Stderr, slog.LevelWarn))
	if err != nil {
		return "", err
	}
	r := svc.Ref()
	fmt.Fprintf(s.Stdout, "Resolved --service %s (region %s, project %s) to %s; the entry runs with this --url and needs no Admin API access.\n", name, r.Region, r.Project, f.URL)
	return name, nil
}
