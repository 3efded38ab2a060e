package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/cloudrun"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy/probe"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/tokens"
)

// servicesCmd is `mcp-cloudrun-proxy services`: the Cloud Run services the caller can see,
// read from the Admin API, with whether the caller may invoke each.
type servicesCmd struct {
	GCPProject                string        `name:"project" help:"Google Cloud project (default: CLOUDSDK_CORE_PROJECT, GOOGLE_CLOUD_PROJECT, then gcloud's core/project)." placeholder:"PROJECT"`
	Region                    string        `help:"Region, or - for every region (default: CLOUDSDK_RUN_REGION, then gcloud's run/region, else every region)." placeholder:"REGION"`
	Path                      string        `help:"Path of the MCP endpoint on each service, for --initialize (default /mcp)." placeholder:"PATH"`
	Initialize                bool          `help:"Also send MCP initialize (then tools/list, then DELETE the session) to each service the caller may invoke: this sends requests to every such service."`
	JSON                      bool          `name:"json" help:"Print one JSON document instead of a table."`
	TokenSource               string        `help:"Where tokens come from: auto, google-auth or gcloud." env:"MCP_CLOUDRUN_PROXY_TOKEN_SOURCE" enum:"auto,google-auth,gcloud" default:"auto"`
	ImpersonateServiceAccount string        `help:"Act as this service account." env:"MCP_CLOUDRUN_PROXY_IMPERSONATE_SERVICE_ACCOUNT" placeholder:"EMAIL"`
	Timeout                   time.Duration `help:"How long each request may take." default:"30s"`
}

// Help implements kong's HelpProvider.
func (c *servicesCmd) Help() string {
	return `"invoke" is the caller's run.routes.invoke on the service (:testIamPermissions): yes, no,
or public when the service needs no token. Needs run.services.list on the project
(roles/run.viewer).`
}

// A serviceRow is one line of the listing (and one element of --json).
type serviceRow struct {
	Name       string `json:"name"`
	Region     string `json:"region"`
	URL        string `json:"url"`
	Ingress    string `json:"ingress"`
	Invoke     string `json:"invoke"`
	Initialize string `json:"initialize,omitempty"`
}

// Run lists the services.
func (c *servicesCmd) Run(ctx context.Context, s *streams) error {
	log := newLogger(s.Stderr, slog.LevelWarn)
	opts := tokens.Options{Source: c.TokenSource, ImpersonateServiceAccount: c.ImpersonateServiceAccount, Logger: log}
	src, err := tokens.NewAccessSource(ctx, opts)
	if err != nil {
		return &exitError{Code: 1, Err: fmt.Errorf("credentials for the Cloud Run Admin API: %w", err)}
	}
	loc := cloudrun.DefaultLocation(os.Getenv, c.GCPProject, c.Region)
	if loc.Project == "" {
		return &exitError{Code: 1, Err: fmt.Errorf("no project: pass --project PROJECT, set CLOUDSDK_CORE_PROJECT or GOOGLE_CLOUD_PROJECT, or run `gcloud config set project PROJECT`")}
	}
	client := adminClient(src)
	lctx, cancel := context.WithTimeout(ctx, c.Timeout)
	list, err := client.ListServices(lctx, loc.Project, loc.Region)
	cancel()
	if err != nil {
		return &exitError{Code: 1, Err: cloudrun.ExplainGetError(err, cloudrun.Ref{Project: loc.Project}, src.Principal())}
	}
	rows := make([]serviceRow, 0, len(list))
	for _, svc := range list {
		rows = append(rows, c.row(ctx, client, opts, svc))
	}
	if c.JSON {
		enc := json.NewEncoder(s.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"project": loc.Project, "region": firstOf(loc.Region, "-"), "principal": src.Principal(), "services": rows})
	}
	return c.table(s, loc, rows)
}

// row judges one service: its ingress, whether the caller may invoke it, and (opt-in)
// whether it answers MCP initialize.
func (c *servicesCmd) row(ctx context.Context, client *cloudrun.Client, opts tokens.Options, svc cloudrun.Service) serviceRow {
	r := svc.Ref()
	row := serviceRow{Name: r.Name, Region: r.Region, URL: svc.URI, Ingress: ingressWord(svc.Ingress)}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	can, err := client.CanInvoke(ctx, r)
	switch {
	case svc.InvokerIAMDisabled:
		row.Invoke = "public"
	case err != nil:
		row.Invoke = "unknown"
	case can:
		row.Invoke = "yes"
	default:
		row.Invoke = "no"
	}
	if c.Initialize && row.Invoke != "no" && svc.URI != "" {
		row.Initialize = c.initialize(ctx, opts, cloudrun.JoinPath(svc.URI, c.Path))
	}
	return row
}

// initialize sends initialize (and tools/list, which deletes the session) with an ID token
// for the service, and says what came back in a few words.
func (c *servicesCmd) initialize(ctx context.Context, opts tokens.Options, url string) string {
	opts.Audience = cloudrun.Origin(url)
	p, err := tokens.NewProvider(ctx, opts)
	if err != nil {
		return "no token: " + err.Error()
	}
	tok, err := p.Fetch(ctx)
	if err != nil {
		return "no token: " + err.Error()
	}
	pr, err := probe.New(probe.Config{URL: url, UserAgent: "mcp-cloudrun-proxy/" + version, ClientVersion: version})
	if err != nil {
		return err.Error()
	}
	st, sess := pr.CheckInitialize(ctx, tok.Reveal(), probe.Hints{})
	if sess == nil {
		return "FAIL: " + strings.ReplaceAll(st.Found, tok.Reveal(), "[redacted]")
	}
	pr.CheckTools(ctx, tok.Reveal(), sess, probe.Hints{})
	return fmt.Sprintf("ok (%s %s)", firstOf(sess.ServerName, "server"), sess.ServerVersion)
}

func (c *servicesCmd) table(s *streams, loc cloudrun.Location, rows []serviceRow) error {
	fmt.Fprintf(s.Stdout, "Project %s, region %s: %d services\n", loc.Project, firstOf(loc.Region, "- (all)"), len(rows))
	tw := tabwriter.NewWriter(s.Stdout, 0, 4, 2, ' ', 0)
	head := "NAME\tREGION\tURL\tINGRESS\tINVOKE"
	if c.Initialize {
		head += "\tINITIALIZE"
	}
	fmt.Fprintln(tw, head)
	for _, r := range rows {
		line := strings.Join([]string{r.Name, r.Region, r.URL, r.Ingress, r.Invoke}, "\t")
		if c.Initialize {
			line += "\t" + firstOf(r.Initialize, "not sent")
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

// ingressWord is gcloud's word for an ingress setting.
func ingressWord(v string) string {
	switch v {
	case cloudrun.IngressInternalOnly:
		return "internal"
	case cloudrun.IngressInternalLoadBalancer:
		return "internal-and-cloud-load-balancing"
	}
	return "all"
}
