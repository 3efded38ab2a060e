package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/cloudrun"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy/probe"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/tokens"
)

// debugCmd is `mcp-cloudrun-proxy debug`: it walks the path a real session takes
// (configuration, credentials, token, reachability, initialize, tools/list) and ends every
// failure with its remedy.
type debugCmd struct {
	connectionFlags
	JSON    bool          `name:"json" help:"Print the report as one JSON document instead of text."`
	Timeout time.Duration `help:"How long each step may take (token issuance, each HTTP request)." default:"30s"`
}

// Validate checks the connection flags and --timeout; kong calls it after parsing.
func (c *debugCmd) Validate() error {
	if err := c.connectionFlags.Validate(); err != nil {
		return err
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("--timeout %s: must be positive, e.g. 30s", c.Timeout)
	}
	return nil
}

// Help implements kong's HelpProvider.
func (c *debugCmd) Help() string {
	return "Prints one line per step (ok, warn or FAIL), with the fix under each failure, and exits 0 " +
		"when no step failed, 1 otherwise. The token itself is never printed."
}

// Run builds the report, prints it and turns a failed step into exit code 1.
func (c *debugCmd) Run(ctx context.Context, s *streams) error {
	log := newLogger(s.Stderr, c.slogLevel())
	d := diagnosis{flags: &c.connectionFlags, timeout: c.Timeout, log: log, now: time.Now}
	rep := d.run(ctx)
	var out bytes.Buffer
	write := rep.WriteText
	if c.JSON {
		write = rep.WriteJSON
	}
	if err := write(&out); err != nil {
		return &exitError{Code: 1, Err: err}
	}
	// The probe already redacts what servers echo; this catches anything else.
	text := out.Bytes()
	if raw := d.token.Reveal(); raw != "" {
		text = bytes.ReplaceAll(text, []byte(raw), []byte("[redacted]"))
	}
	if _, err := s.Stdout.Write(text); err != nil {
		return &exitError{Code: 1, Err: fmt.Errorf("write report: %w", err)}
	}
	if !rep.OK {
		return &exitError{Code: 1}
	}
	return nil
}

// diagnosis holds what the steps learn, for the steps after them.
type diagnosis struct {
	flags   *connectionFlags
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time

	desc    tokens.Description
	token   tokens.Token
	fetched bool
	// svc is the service read from the Admin API (--service, or found by the service step);
	// nil when its settings are unknown.
	svc     *cloudrun.Service
	foundBy string
}

func (d *diagnosis) run(ctx context.Context) *probe.Report {
	rep := &probe.Report{URL: d.flags.URL}
	if st, ok := d.resolveService(ctx); !ok {
		rep.Add(st)
		return rep
	}
	rep.URL = d.flags.URL
	rep.Add(d.configuration())

	provider, st := d.credentials(ctx)
	rep.Add(st)
	if provider != nil {
		rep.Add(d.fetch(ctx, provider))
	} else {
		rep.Add(skipped("token", "ID token", fmt.Sprintf("not run: no credentials (step %d)", len(rep.Steps))))
	}
	refused := false
	if st, ok := d.service(ctx, provider); ok {
		rep.Add(st)
		refused = st.Verdict == probe.Fail
	}

	p, err := probe.New(probe.Config{URL: d.flags.URL, UserAgent: "mcp-cloudrun-proxy/" + version, ClientVersion: version})
	if err != nil {
		rep.Add(probe.Step{Name: "reachability", Checked: "reachability without a token", Verdict: probe.Fail, Found: err.Error(), Remedy: "fix --url"})
		return rep
	}
	reach := d.step(ctx, p.CheckReachability)
	rep.Add(reach)
	_, unreachable := reach.Details["error_kind"]
	reachN := len(rep.Steps)

	initName, initChecked := "initialize", "MCP initialize with the token"
	toolsName, toolsChecked := "tools", "tools/list, then DELETE the session"
	switch {
	case !d.fetched:
		rep.Add(skipped(initName, initChecked, "not run: no token"))
		rep.Add(skipped(toolsName, toolsChecked, "not run: no token"))
		return rep
	case unreachable:
		why := fmt.Sprintf("not run: the server cannot be reached (step %d)", reachN)
		rep.Add(skipped(initName, initChecked, why))
		rep.Add(skipped(toolsName, toolsChecked, why))
		return rep
	case refused:
		why := fmt.Sprintf("not run: the service's settings say it would refuse this request (step %d)", reachN-1)
		rep.Add(skipped(initName, initChecked, why))
		rep.Add(skipped(toolsName, toolsChecked, why))
		return rep
	}
	hints := d.hints()
	ictx, cancel := context.WithTimeout(ctx, d.timeout)
	initStep, sess := p.CheckInitialize(ictx, d.token.Reveal(), hints)
	cancel()
	rep.Add(initStep)
	if sess == nil {
		rep.Add(skipped(toolsName, toolsChecked, fmt.Sprintf("not run: initialize failed (step %d)", len(rep.Steps))))
		return rep
	}
	rep.Add(d.step(ctx, func(ctx context.Context) probe.Step { return p.CheckTools(ctx, d.token.Reveal(), sess, hints) }))
	rep.Add(d.step(ctx, func(ctx context.Context) probe.Step { return p.CheckDiscover(ctx, d.token.Reveal()) }))
	return rep
}

// step runs one network step under --timeout.
func (d *diagnosis) step(ctx context.Context, f func(context.Context) probe.Step) probe.Step {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	return f(ctx)
}

func skipped(name, checked, why string) probe.Step {
	return probe.Step{Name: name, Checked: checked, Verdict: probe.Skip, Found: why}
}

// configuration is step 1: what the flags ask for, with warnings for the usual slips.
func (d *diagnosis) configuration() probe.Step {
	f := d.flags
	aud, origin := f.audience(), defaultAudience(f.URL)
	audFrom := "given with --audience"
	if f.Audience == "" {
		audFrom = "inferred from --url"
	}
	st := probe.Step{Name: "configuration", Checked: "configuration", Verdict: probe.OK,
		Details: map[string]any{"url": f.URL, "audience": aud, "audience_inferred": f.Audience == "", "token_source": f.TokenSource}}
	st.Found = fmt.Sprintf("url %s, audience %s (%s), token source %s", f.URL, aud, audFrom, f.TokenSource)
	if d.svc != nil {
		st.Found += fmt.Sprintf(" (url from --service: %s)", d.svc.Ref())
		st.Details["service"] = d.svc.Name
	}
	if f.ImpersonateServiceAccount != "" {
		st.Found += ", impersonating " + f.ImpersonateServiceAccount
		st.Details["impersonate_service_account"] = f.ImpersonateServiceAccount
	}
	var notes, fixes []string
	if u, err := url.Parse(aud); err == nil && u.Path != "" && u.Path != "/" {
		notes = append(notes, fmt.Sprintf("the audience carries a path (%s): Cloud Run expects the service URL without one (%s), unless %s is a custom audience of the service", u.Path, origin, aud))
		fixes = append(fixes, "--audience "+origin+" (or leave --audience out)")
	}
	if u, err := url.Parse(f.URL); err == nil && (u.Path == "" || u.Path == "/") {
		notes = append(notes, "the URL has no path, but most MCP servers serve Streamable HTTP at /mcp")
		fixes = append(fixes, "--url "+origin+"/mcp, if that is where the server listens")
	}
	if len(notes) > 0 {
		st.Verdict, st.Note, st.Remedy = probe.Warn, strings.Join(notes, "; "), "try "+strings.Join(fixes, "; ")
	}
	return st
}

// credentials is step 2: which credential the token source resolves to.
func (d *diagnosis) credentials(ctx context.Context) (tokens.Provider, probe.Step) {
	st := probe.Step{Name: "credentials", Checked: "credentials"}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	p, err := tokens.NewProvider(ctx, d.flags.tokenOptions(d.log))
	if err != nil {
		st.Verdict, st.Found = probe.Fail, err.Error()
		st.Remedy = credentialRemedy(err, d.flags.TokenSource)
		return nil, st
	}
	d.desc = p.Describe()
	st.Verdict, st.Found = probe.OK, describeCredential(d.desc)
	st.Note = d.desc.Why
	st.Details = map[string]any{
		"source": d.desc.Source, "credential_type": d.desc.CredentialType, "credential_file": d.desc.CredentialFile,
		"principal": d.desc.Principal, "impersonation_target": d.desc.ImpersonationTarget,
		"audience_honoured": d.desc.AudienceHonoured,
	}
	return p, st
}

func describeCredential(d tokens.Description) string {
	var what string
	switch d.CredentialType {
	case tokens.TypeGcloud:
		what = "gcloud (gcloud auth print-identity-token), active account " + orUnknown(d.Principal)
	case tokens.TypeMetadata:
		what = "metadata server, service account " + orUnknown(d.Principal)
	default:
		what = "Application Default Credentials, type " + d.CredentialType
		if d.CredentialFile != "" {
			what += " from " + d.CredentialFile
		}
		if d.Principal != "" {
			what += ", principal " + d.Principal
		}
	}
	if d.ImpersonationTarget != "" {
		what += ", impersonating " + d.ImpersonationTarget
	}
	return "token source " + d.Source + ": " + what
}

func credentialRemedy(err error, source string) string {
	switch {
	case errors.Is(err, tokens.ErrNoCredentials):
		return "run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file; or run `gcloud auth login` and use --token-source gcloud"
	case source == tokens.SourceGcloud:
		return "install the Google Cloud SDK and run `gcloud auth login`, or use --token-source google-auth"
	}
	return "fix the credential the error names, or write fresh user credentials with `gcloud auth application-default login`"
}

// fetch is step 3: one fresh token and what its claims say.
func (d *diagnosis) fetch(ctx context.Context, p tokens.Provider) probe.Step {
	st := probe.Step{Name: "token", Checked: "ID token"}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	start := d.now()
	tok, err := p.Fetch(ctx)
	took := d.now().Sub(start)
	if err != nil {
		st.Verdict, st.Found = probe.Fail, "no token: "+err.Error()
		st.Remedy = d.fetchRemedy()
		return st
	}
	d.token, d.fetched = tok, true
	c := tok.Claims()
	now := d.now()
	left := c.Expiry.Sub(now).Round(time.Second)
	st.Details = map[string]any{
		"issued_in_ms": took.Milliseconds(), "iss": c.Issuer, "aud": c.Audience, "email": c.Email,
		"iat": stamp(c.IssuedAt), "exp": stamp(c.Expiry), "expires_in_seconds": int64(left.Seconds()),
	}
	st.Verdict = probe.OK
	st.Found = fmt.Sprintf("issued in %s: iss %s, aud %s, email %s, iat %s, exp %s (%s left)",
		took.Round(time.Millisecond), c.Issuer, c.Audience, orUnknown(c.Email), stamp(c.IssuedAt), stamp(c.Expiry), left)
	want := d.flags.audience()
	switch {
	case !c.Expiry.After(now):
		st.Verdict = probe.Fail
		st.Found = fmt.Sprintf("issued in %s, but it expired %s ago (exp %s): Cloud Run will refuse it", took.Round(time.Millisecond), -left, stamp(c.Expiry))
		st.Remedy = "check this machine's clock (tokens live an hour); then log in again: " + d.loginCommand()
	case c.Audience != want && d.desc.CredentialType == tokens.TypeGcloud && cloudrun.IsOAuthClientID(c.Audience):
		// Cloud Run documents `curl -H "Authorization: Bearer $(gcloud auth print-identity-token)"`
		// for user accounts: it accepts these tokens from principals with the invoker role.
		st.Note = fmt.Sprintf("aud is gcloud's OAuth client id %s, not %s: gcloud cannot choose the audience for a user account; Cloud Run accepts such tokens from principals with roles/run.invoker (the initialize step shows whether it does here)",
			c.Audience, want)
	case c.Audience != want:
		st.Verdict = probe.Warn
		if cloudrun.IsOAuthClientID(c.Audience) {
			st.Note = fmt.Sprintf("aud is the OAuth client id %s, not the audience %s: %s credentials cannot choose the audience. Cloud Run accepts such user tokens in many setups but not all (the initialize step shows whether it does here)",
				c.Audience, want, d.desc.CredentialType)
		} else {
			st.Note = fmt.Sprintf("aud is %s, not the audience %s. Cloud Run accepts a token only when its aud is the service URL or one of the service's custom audiences, so it will answer 401 unless %s is a custom audience",
				c.Audience, want, c.Audience)
		}
		st.Remedy = d.refusal().AudienceRemedy(c.Audience)
	}
	return st
}

func (d *diagnosis) fetchRemedy() string {
	if t := d.desc.ImpersonationTarget; t != "" {
		return fmt.Sprintf("the principal needs roles/iam.serviceAccountTokenCreator on %s: `%s`", t, cloudrun.GrantTokenCreator(t, d.desc.Principal))
	}
	return "log in again: " + d.loginCommand()
}

func (d *diagnosis) loginCommand() string {
	switch d.desc.CredentialType {
	case tokens.TypeGcloud:
		return "`gcloud auth login`"
	case tokens.TypeServiceAccount:
		return "create a new key for the service account (the old one may be disabled or deleted)"
	case tokens.TypeMetadata:
		return "check the service account attached to this machine"
	}
	return "`gcloud auth application-default login`"
}

// refusal is what steps 2 and 3 learnt, for explaining a 401 or 403 to the token.
func (d *diagnosis) refusal() cloudrun.Refusal {
	c := d.token.Claims()
	r := cloudrun.Refusal{URL: d.flags.URL, Ref: d.ref(), RefNote: d.refNote(), TokenAudience: c.Audience,
		Principal: d.principal(), AudienceHonoured: d.desc.AudienceHonoured, Login: d.loginCommand()}
	if !c.Expiry.After(d.now()) {
		r.ExpiredAt = stamp(c.Expiry)
	}
	return r
}

// hints explain a 401 or 403 to the token with what steps 2 and 3 learnt.
func (d *diagnosis) hints() probe.Hints {
	r := d.refusal()
	return probe.Hints{Unauthorized: probe.Explanation(r.Unauthorized()), Forbidden: probe.Explanation(r.Forbidden())}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "(none)"
	}
	return t.UTC().Format(time.RFC3339)
}

func orUnknown(s string) string { return firstOf(s, "(unknown)") }

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
