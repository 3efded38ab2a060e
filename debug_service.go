package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/cloudrun"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy/probe"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/tokens"
)

const serviceChecked = "Cloud Run service settings (Admin API)"

// resolveService resolves --service before anything else; a failure is the only step.
func (d *diagnosis) resolveService(ctx context.Context) (probe.Step, bool) {
	if d.flags.Service == "" {
		return probe.Step{}, true
	}
	name := d.flags.Service
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	svc, err := d.flags.resolveURL(ctx, d.log)
	if err != nil {
		return probe.Step{Name: "service", Checked: "--service " + name + " (Cloud Run Admin API)", Verdict: probe.Fail,
			Found: err.Error(), Remedy: "fix what the message names, or pass --url with the service's URL"}, false
	}
	d.svc, d.foundBy = svc, cloudrun.FoundByFlag
	return probe.Step{}, true
}

// service is the step that reads the service's own settings, when it can find the service:
// from --service, a deterministic URL, or by listing the project's services. ok is false when
// the service cannot be found at all (a custom domain with no project set, a local server).
func (d *diagnosis) service(ctx context.Context, p tokens.Provider) (probe.Step, bool) {
	st := probe.Step{Name: "service", Checked: serviceChecked, Verdict: probe.OK}
	if p == nil {
		return st, false
	}
	src, err := tokens.AccessSourceOf(p)
	if err != nil {
		return st, false
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	client := adminClient(src)
	if d.svc == nil {
		loc := cloudrun.DefaultLocation(os.Getenv, d.flags.GCPProject, d.flags.Region)
		svc, how, err := cloudrun.Find(ctx, client, d.flags.URL, loc.Project, d.principal())
		switch {
		case how == cloudrun.FoundNotFound:
			d.log.Debug("service step left out: the service cannot be found", "why", err)
			return st, false
		case err != nil:
			st.Found = fmt.Sprintf("settings not read (%v); the steps below judge from HTTP answers instead", err)
			st.Details = map[string]any{"read": false, "found_by": how, "error": err.Error()}
			return st, true
		}
		d.svc, d.foundBy = &svc, how
	}
	can, ierr := client.CanInvoke(ctx, d.svc.Ref())
	facts := cloudrun.Facts{Service: *d.svc, URL: d.flags.URL, Audience: d.flags.audience(),
		Principal: d.principal(), CanInvoke: can, InvokeErr: ierr}
	if d.fetched {
		facts.TokenAudience = d.token.Claims().Audience
	}
	if ierr == nil && !can {
		// Who does hold the role, when the caller may read the policy: often the fix is plain.
		if members, err := client.Invokers(ctx, d.svc.Ref()); err == nil {
			facts.Invokers = members
		}
	}
	return d.serviceStep(facts, cloudrun.Judge(facts)), true
}

// serviceStep folds the judgments into one step: the worst verdict, every finding.
func (d *diagnosis) serviceStep(f cloudrun.Facts, js []cloudrun.Judgment) probe.Step {
	s, r := f.Service, f.Service.Ref()
	st := probe.Step{Name: "service", Checked: serviceChecked, Verdict: probe.OK}
	var found, notes, fixes []string
	var judged []map[string]any
	for _, j := range js {
		found = append(found, j.Found)
		if j.Note != "" {
			notes = append(notes, j.Note)
		}
		if j.Remedy != "" {
			fixes = append(fixes, j.Remedy)
		}
		v := probe.OK
		switch j.Level {
		case cloudrun.Bad:
			v, st.Verdict = probe.Fail, probe.Fail
		case cloudrun.Doubt:
			v = probe.Warn
			if st.Verdict == probe.OK {
				st.Verdict = probe.Warn
			}
		}
		judged = append(judged, map[string]any{"topic": j.Topic, "verdict": v, "found": j.Found})
	}
	st.Found = fmt.Sprintf("%s (found by %s): %s", r, d.foundBy, strings.Join(found, "; "))
	st.Note, st.Remedy = strings.Join(notes, "; "), strings.Join(fixes, "; ")
	st.Details = map[string]any{
		"read": true, "found_by": d.foundBy, "service": r.Name, "region": r.Region, "project": r.Project,
		"uri": s.URI, "urls": s.AllURLs(), "ingress": firstOf(s.Ingress, cloudrun.IngressAll),
		"invoker_iam_disabled": s.InvokerIAMDisabled, "custom_audiences": s.CustomAudiences, "iap_enabled": s.IAPEnabled,
		"principal": f.Principal, "judgments": judged,
	}
	if f.InvokeErr == nil {
		st.Details["can_invoke"] = f.CanInvoke
	}
	return st
}

// principal is who the ID tokens act as: the token's email, else what the credential says.
func (d *diagnosis) principal() string {
	var email string
	if d.fetched {
		email = d.token.Claims().Email
	}
	return firstOf(email, d.desc.ImpersonationTarget, d.desc.Principal)
}

// ref names the service for grant commands: from the Admin API when read, else from the URL.
func (d *diagnosis) ref() cloudrun.Ref {
	if d.svc != nil {
		return d.svc.Ref()
	}
	return cloudrun.ParseURL(d.flags.URL).Ref
}

// refNote says where the names in a grant command come from.
func (d *diagnosis) refNote() string {
	if d.svc != nil {
		r := d.svc.Ref()
		return fmt.Sprintf("service %s, region %s and project %s read from the Cloud Run Admin API", r.Name, r.Region, r.Project)
	}
	return cloudrun.ParseURL(d.flags.URL).Note()
}
