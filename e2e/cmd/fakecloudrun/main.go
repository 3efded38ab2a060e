// Command fakecloudrun runs a fake Cloud Run MCP service and a fake Google on loopback ports,
// writes credentials that point at them, and prints one readiness line on stdout:
//
//	fakecloudrun listening url=http://127.0.0.1:PORT/mcp control=... google=... metadata_host=... kind=... env_file=... credentials=... service=...
//
// With --service NAME the fake Google also serves that service in the Cloud Run Admin API
// (MCP_CLOUDRUN_PROXY_RUN_ENDPOINT in the env file points there), so that
// `mcp-cloudrun-proxy debug --service NAME --region R --project P` works against it.
//
// env_file holds KEY=VALUE lines (a temporary HOME, GOOGLE_APPLICATION_CREDENTIALS, ...) that
// make mcp-cloudrun-proxy obtain tokens from the fake Google. Faults and counters are driven
// over HTTP under /_fake/ (GET /_fake/ lists them). It runs until SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakecloudrun"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakegoogle"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "fakecloudrun: %v\n", err)
		os.Exit(1)
	}
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fakecloudrun", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address of the fake Cloud Run service (loopback)")
	dir := fs.String("dir", "", "directory for credential files (default: a new temporary directory, removed on exit)")
	kind := fs.String("credentials", string(fakegoogle.ServiceAccountKey), "credentials to prepare: service-account-key, metadata, authorized-user, authorized-user-well-known, impersonated-adc, impersonate-flag, gcloud, gcloud-service-account")
	gcloudDir := fs.String("gcloud-dir", "", "directory holding the fakegcloud binary named gcloud (for the gcloud kinds)")
	lifetime := fs.Int("token-lifetime", 3600, "lifetime of issued tokens, in seconds")
	jsonResp := fs.Bool("json", false, "answer with application/json instead of SSE")
	useTLS := fs.Bool("tls", false, "serve HTTPS (HTTP/2) with a self-signed certificate; the env file sets SSL_CERT_FILE to it")
	rejectClientIDs := fs.Bool("reject-client-id-audiences", false, "refuse tokens whose aud is the gcloud or ADC OAuth client id")
	verbose := fs.Bool("v", false, "log every request (never a token) on stderr")
	service := fs.String("service", "", "also serve this service in the fake Cloud Run Admin API (project --project, region --region), with the prepared principal as its only invoker; the gate then obeys its settings")
	project := fs.String("project", "fake-project", "project of --service")
	region := fs.String("region", "us-central1", "region of --service")
	var audiences, invokers listFlag
	fs.Var(&audiences, "audience", "extra accepted audience (repeatable)")
	fs.Var(&invokers, "invoker", "allowed principal email (repeatable; default: everyone with a valid token)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	if *dir != "" {
		if err := os.MkdirAll(*dir, 0o700); err != nil {
			return fmt.Errorf("create --dir: %w", err)
		}
	} else {
		d, err := os.MkdirTemp("", "fakecloudrun-")
		if err != nil {
			return fmt.Errorf("create credentials directory: %w", err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	google, err := fakegoogle.New(fakegoogle.Options{TokenLifetime: time.Duration(*lifetime) * time.Second, Logger: logger})
	if err != nil {
		return err
	}
	defer google.Close()
	var inv []string
	if len(invokers) > 0 {
		inv = invokers
	}
	var resource string
	if *service != "" {
		resource = "projects/" + *project + "/locations/" + *region + "/services/" + *service
	}
	crun, err := fakecloudrun.New(fakecloudrun.Options{
		Google:                  google,
		RunService:              resource,
		Addr:                    *addr,
		Audiences:               audiences,
		RejectClientIDAudiences: *rejectClientIDs,
		Invokers:                inv,
		JSONResponse:            *jsonResp,
		TLS:                     *useTLS,
		Logger:                  logger,
	})
	if err != nil {
		return err
	}
	defer crun.Close()
	su, err := google.Setup(fakegoogle.Kind(*kind), *dir, fakegoogle.SetupOptions{GcloudDir: *gcloudDir})
	if err != nil {
		return err
	}
	if *service != "" {
		google.PutRunService(fakegoogle.RunService{Project: *project, Region: *region, Name: *service,
			URI: crun.Origin(), Invokers: []string{fakegoogle.MemberOf(su.Principal)}})
		su.Env = append(su.Env, fakegoogle.RunEndpointEnv+"="+google.URL())
	}
	if pem := crun.CertPEM(); pem != nil {
		ca := filepath.Join(*dir, "fakecloudrun-ca.pem")
		if err := os.WriteFile(ca, pem, 0o600); err != nil {
			return fmt.Errorf("write TLS certificate: %w", err)
		}
		su.Env = append(su.Env, "SSL_CERT_FILE="+ca)
		su.Files = append(su.Files, ca)
	}
	envFile := filepath.Join(*dir, "env")
	if err := os.WriteFile(envFile, []byte(strings.Join(su.Env, "\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("write env file: %w", err)
	}
	fmt.Fprintf(stdout, "fakecloudrun listening url=%s control=%s/_fake/ google=%s metadata_host=%s kind=%s env_file=%s credentials=%s service=%s args=%q\n",
		crun.URL(), crun.Origin(), google.URL(), google.MetadataHost(), su.Kind, envFile, strings.Join(su.Files, ","), resource, strings.Join(su.Args, " "))
	fmt.Fprintf(stderr, "fakecloudrun: run the proxy against it with\n  env -i $(cat %s) mcp-cloudrun-proxy run --url %s %s\nfakecloudrun: faults and counters: curl %s/_fake/\n",
		envFile, crun.URL(), strings.Join(su.Args, " "), crun.Origin())
	<-ctx.Done()
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil
	}
	return ctx.Err()
}
