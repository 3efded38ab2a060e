package tokens

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"cloud.google.com/go/compute/metadata"
)

const (
	defaultMetadataIP   = "169.254.169.254"
	metadataAccountPath = "/computeMetadata/v1/instance/service-accounts/default/"
)

func metadataHost(e env) string {
	if h := e.getenv("GCE_METADATA_HOST"); h != "" {
		return h
	}
	return e.metadataIP
}

// metadataAvailable decides, as Google's libraries do, whether a metadata server is there:
// GCE_METADATA_HOST set, or a bounded probe of 169.254.169.254 answering with
// Metadata-Flavor: Google. It returns a phrase for logs and errors.
func metadataAvailable(ctx context.Context, e env) (bool, string) {
	if h := e.getenv("GCE_METADATA_HOST"); h != "" {
		return true, "GCE_METADATA_HOST=" + h + " is set"
	}
	if v := strings.ToLower(e.getenv(envNoGCECheck)); v == "1" || v == "true" {
		return false, envNoGCECheck + " is set"
	}
	ctx, cancel := context.WithTimeout(ctx, metadataProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.metadataIP+"/", nil)
	if err != nil {
		return false, "not reachable"
	}
	req.Header.Set("Metadata-Flavor", "Google")
	resp, err := e.metadataClient().Do(req)
	if err != nil {
		return false, fmt.Sprintf("not reachable at %s within %s", e.metadataIP, metadataProbeTimeout)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.Header.Get("Metadata-Flavor") != "Google" {
		return false, e.metadataIP + " is not a Google metadata server"
	}
	return true, "the metadata server at " + e.metadataIP + " answered"
}

// metadataClient never goes through an HTTP proxy: the metadata server is link-local.
func (e env) metadataClient() *http.Client {
	if e.userHTTPClient {
		return e.httpClient
	}
	return &http.Client{
		Transport: &http.Transport{Proxy: nil, ResponseHeaderTimeout: 10 * time.Second},
		Timeout:   30 * time.Second,
	}
}

// metadataGet GETs path (under /computeMetadata/v1/instance/service-accounts/default/) and
// returns the body, through cloud.google.com/go/compute/metadata (its Metadata-Flavor header,
// its retries of 5xx and 429 with backoff). The library takes the host only from the process
// environment, so the transport pins requests to metadataHost(e), which honours the getenv
// hook as the rest of resolution does.
func metadataGet(ctx context.Context, e env, client *http.Client, path string) (string, error) {
	what := "metadata server " + metadataHost(e)
	hc := &http.Client{Transport: pinHost{host: metadataHost(e), next: client}, Timeout: client.Timeout}
	c := metadata.NewWithOptions(&metadata.Options{Client: hc, Logger: slog.New(slog.DiscardHandler)})
	body, err := c.GetWithContext(ctx, strings.TrimPrefix(metadataAccountPath, "/computeMetadata/v1/")+path)
	var me *metadata.Error
	switch {
	case errors.As(err, &me):
		return "", &httpError{what: what, status: me.Code, body: redactSecrets(me.Message)}
	case err != nil:
		var nd metadata.NotDefinedError
		if errors.As(err, &nd) {
			return "", &httpError{what: what, status: http.StatusNotFound, body: string(nd)}
		}
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return strings.TrimSpace(body), nil
}

// pinHost sends every request to host, whatever host the URL names.
type pinHost struct {
	host string
	next *http.Client
}

func (p pinHost) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Host, req.Host = p.host, p.host
	return p.next.Do(req)
}

func newMetadataProvider(ctx context.Context, e env) (*googleAuthProvider, error) {
	client := e.metadataClient()
	p := &googleAuthProvider{
		desc: Description{
			Source:              SourceGoogleAuth,
			CredentialType:      TypeMetadata,
			ImpersonationTarget: e.ImpersonateServiceAccount,
			AudienceHonoured:    true,
		},
		label: "metadata server " + metadataHost(e),
		fix:   "check that this instance has a service account attached",
	}
	ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
	email, err := metadataGet(ectx, e, client, "email")
	cancel()
	if err != nil {
		e.Logger.Debug("could not read the metadata server's service account email", "error", err)
	} else {
		p.desc.Principal = email
	}
	access := func(ctx context.Context) (string, error) {
		body, err := metadataGet(ctx, e, client, "token")
		if err != nil {
			return "", err
		}
		var r oauthTokenResponse
		if err := jsonUnmarshalString(body, &r); err != nil || r.AccessToken == "" {
			return "", fmt.Errorf("metadata server %s: the token answer has no access_token", metadataHost(e))
		}
		return r.AccessToken, nil
	}
	if e.ImpersonateServiceAccount == "" {
		p.mint = func(ctx context.Context) (string, error) {
			q := url.Values{"audience": {e.Audience}, "format": {"full"}}
			return metadataGet(ctx, e, client, "identity?"+q.Encode())
		}
		p.access = access
		return p, nil
	}
	p.fix = "check that the instance's service account may impersonate " + e.ImpersonateServiceAccount
	p.impersonate(e, access, e.iamEndpoint(), e.ImpersonateServiceAccount, nil)
	return p, nil
}
