package cloudrun

import (
	"context"
	"errors"
	"fmt"
)

// ResolveURL reads service name in loc through the Admin API and returns its uri with path
// appended ("/mcp" when empty). principal names the caller in a permission error. Every
// error says what to do: a missing region or project, an unknown service (with Google's
// message) and a caller without run.services.get each have their own.
func ResolveURL(ctx context.Context, c *Client, name string, loc Location, path, principal string) (string, Service, error) {
	if err := loc.check("--service " + name); err != nil {
		return "", Service{}, err
	}
	ref := Ref{Name: name, Region: loc.Region, Project: loc.Project}
	svc, err := c.GetService(ctx, ref)
	if err != nil {
		if IsPermissionDenied(err) {
			return "", Service{}, fmt.Errorf("%w; or pass --url instead of --service", ExplainGetError(err, ref, principal))
		}
		return "", Service{}, ExplainGetError(err, ref, principal)
	}
	if svc.URI == "" {
		return "", svc, fmt.Errorf("service %s has no URL yet (is its first revision still deploying?); pass --url once `gcloud run services describe %s --region %s --project %s` shows one", ref, name, ref.Region, ref.Project)
	}
	return JoinPath(svc.URI, path), svc, nil
}

// check says which of project and region is missing, and how to set it.
func (l Location) check(what string) error {
	var errs []error
	if l.Project == "" {
		errs = append(errs, fmt.Errorf("%s needs a project: pass --project PROJECT, set CLOUDSDK_CORE_PROJECT or GOOGLE_CLOUD_PROJECT, or run `gcloud config set project PROJECT`", what))
	}
	if l.Region == "" {
		errs = append(errs, fmt.Errorf("%s needs a region: pass --region REGION (e.g. us-central1), set CLOUDSDK_RUN_REGION, or run `gcloud config set run/region REGION`", what))
	}
	return errors.Join(errs...)
}

// ExplainGetError turns an Admin API error about ref (a service, or with no name the
// project's list) into one that says what to do.
func ExplainGetError(err error, ref Ref, principal string) error {
	switch {
	case IsNotFound(err):
		return fmt.Errorf("no Cloud Run service %s: Google said: %w; `gcloud run services list --project %s` (or `mcp-cloudrun-proxy services --project %s`) lists the services you can see",
			ref, err, ref.Project, ref.Project)
	case IsPermissionDenied(err):
		who := firstOf(principal, "the caller")
		if ref.Name == "" {
			return fmt.Errorf("%s may not list the services of project %s (needs run.services.list, in roles/run.viewer): Google said: %w; ask for it: `%s`",
				who, ref.project(), err, GrantViewer(ref.Project, principal))
		}
		return fmt.Errorf("%s may not read service %s (needs %s, in roles/run.viewer): Google said: %w; ask for it: `%s`",
			who, ref, PermissionGet, err, GrantViewer(ref.Project, principal))
	}
	return fmt.Errorf("reading service %s from the Cloud Run Admin API: %w", ref, err)
}

// How a service was found for debug.
const (
	FoundByFlag   = "--service"
	FoundByURL    = "the deterministic URL"
	FoundByList   = "listing the project's services"
	FoundNotFound = ""
)

// Find looks for the service behind rawURL: by its deterministic URL
// (SERVICE-PROJECT_NUMBER.REGION.run.app), else by listing project's services (every region)
// and matching uri and urls. It returns how it found it, or an error saying why not; a
// permission or network error is returned as is, so that the caller can say the settings
// could not be read.
func Find(ctx context.Context, c *Client, rawURL, project, principal string) (Service, string, error) {
	info := ParseURL(rawURL)
	if info.Deterministic {
		svc, err := c.GetService(ctx, info.Ref)
		if err != nil {
			return Service{}, FoundByURL, ExplainGetError(err, info.Ref, principal)
		}
		return svc, FoundByURL, nil
	}
	if project == "" {
		return Service{}, FoundNotFound, fmt.Errorf("%s, and no project is set to look it up in (--project, CLOUDSDK_CORE_PROJECT or gcloud's core/project)", info.Why)
	}
	list, err := c.ListServices(ctx, project, "-")
	if err != nil {
		return Service{}, FoundByList, ExplainGetError(err, Ref{Project: project}, principal)
	}
	for _, s := range list {
		if s.HasURL(rawURL) {
			return s, FoundByList, nil
		}
	}
	return Service{}, FoundNotFound, fmt.Errorf("none of the %d services of project %s has the URL %s", len(list), project, Origin(rawURL))
}
