package cloudrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// EnvRunEndpoint overrides the Admin API base URL (tests point it at a fake), as
// MCP_CLOUDRUN_PROXY_IAM_ENDPOINT does for IAM Credentials.
const EnvRunEndpoint = "MCP_CLOUDRUN_PROXY_RUN_ENDPOINT"

// DefaultEndpoint is the Cloud Run Admin API.
const DefaultEndpoint = "https://run.googleapis.com"

// Endpoint is the Admin API base URL: EnvRunEndpoint when set, else DefaultEndpoint.
func Endpoint(getenv func(string) string) string {
	if v := getenv(EnvRunEndpoint); v != "" {
		return strings.TrimSuffix(v, "/")
	}
	return DefaultEndpoint
}

// Ingress settings of a service, as the Admin API v2 names them.
const (
	IngressAll                  = "INGRESS_TRAFFIC_ALL"
	IngressInternalOnly         = "INGRESS_TRAFFIC_INTERNAL_ONLY"
	IngressInternalLoadBalancer = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
)

// A Service is the part of the Admin API v2 Service resource the proxy reads.
type Service struct {
	// Name is projects/P/locations/R/services/S.
	Name string `json:"name"`
	// URI is the main URL; URLs are all of them (deterministic and hash forms).
	URI  string   `json:"uri"`
	URLs []string `json:"urls,omitempty"`
	// Ingress is one of the Ingress* constants; empty means all.
	Ingress string `json:"ingress,omitempty"`
	// InvokerIAMDisabled means anyone may call the service without a token.
	InvokerIAMDisabled bool `json:"invokerIamDisabled,omitempty"`
	// CustomAudiences are accepted in aud besides the service's URLs.
	CustomAudiences []string `json:"customAudiences,omitempty"`
	// IAPEnabled means Identity-Aware Proxy checks every request first.
	IAPEnabled bool `json:"iapEnabled,omitempty"`
}

// Ref is the service's name, region and project from its resource name.
func (s Service) Ref() Ref { return refFromResource(s.Name) }

// AllURLs is uri followed by the other urls, without repeats.
func (s Service) AllURLs() []string {
	out := []string{}
	for _, u := range append([]string{s.URI}, s.URLs...) {
		if u != "" && !contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// HasURL reports whether rawURL's origin is one of the service's URLs.
func (s Service) HasURL(rawURL string) bool {
	o := Origin(rawURL)
	for _, u := range s.AllURLs() {
		if Origin(u) == o {
			return true
		}
	}
	return false
}

// An APIError is Google's error JSON ({"error": {"code", "message", "status"}}).
type APIError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("HTTP %d %s", e.Code, e.Status)
	}
	return fmt.Sprintf("%s (HTTP %d %s)", e.Message, e.Code, e.Status)
}

// IsNotFound reports whether err is the Admin API's 404.
func IsNotFound(err error) bool {
	var a *APIError
	return errors.As(err, &a) && a.Code == http.StatusNotFound
}

// IsPermissionDenied reports whether err is the Admin API's 403 (or 401).
func IsPermissionDenied(err error) bool {
	var a *APIError
	return errors.As(err, &a) && (a.Code == http.StatusForbidden || a.Code == http.StatusUnauthorized)
}

// An Authorizer sets the Authorization header of an Admin API request (an access token with
// the cloud-platform scope).
type Authorizer func(ctx context.Context, req *http.Request) error

// A Client calls the Cloud Run Admin API v2.
type Client struct {
	// Endpoint is the base URL, e.g. [DefaultEndpoint] or [Endpoint](os.Getenv).
	Endpoint string
	// HTTP makes the requests; nil means http.DefaultClient.
	HTTP *http.Client
	// Authorize sets the credentials of each request. Required.
	Authorize Authorizer
	// UserAgent is sent when set.
	UserAgent string
}

// GetService reads one service.
func (c *Client) GetService(ctx context.Context, r Ref) (Service, error) {
	var s Service
	err := c.do(ctx, http.MethodGet, "/v2/"+escapeResource(r.Resource()), nil, &s)
	return s, err
}

// ListServices lists the services of project in region ("-" or "" for every region).
func (c *Client) ListServices(ctx context.Context, project, region string) ([]Service, error) {
	if region == "" {
		region = "-"
	}
	var all []Service
	page := ""
	for {
		var out struct {
			Services      []Service `json:"services"`
			NextPageToken string    `json:"nextPageToken"`
		}
		path := "/v2/projects/" + url.PathEscape(project) + "/locations/" + url.PathEscape(region) + "/services?pageSize=100"
		if page != "" {
			path += "&pageToken=" + url.QueryEscape(page)
		}
		if err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
			return all, err
		}
		all = append(all, out.Services...)
		if out.NextPageToken == "" || len(out.Services) == 0 {
			return all, nil
		}
		page = out.NextPageToken
	}
}

// CanInvoke asks :testIamPermissions whether the caller holds run.routes.invoke on the service.
func (c *Client) CanInvoke(ctx context.Context, r Ref) (bool, error) {
	body, _ := json.Marshal(map[string]any{"permissions": []string{PermissionInvoke}})
	var out struct {
		Permissions []string `json:"permissions"`
	}
	if err := c.do(ctx, http.MethodPost, "/v2/"+escapeResource(r.Resource())+":testIamPermissions", body, &out); err != nil {
		return false, err
	}
	return contains(out.Permissions, PermissionInvoke), nil
}

// Invokers reads the members bound to roles/run.invoker with :getIamPolicy (which needs
// run.services.getIamPolicy).
func (c *Client) Invokers(ctx context.Context, r Ref) ([]string, error) {
	var out struct {
		Bindings []struct {
			Role    string   `json:"role"`
			Members []string `json:"members"`
		} `json:"bindings"`
	}
	if err := c.do(ctx, http.MethodGet, "/v2/"+escapeResource(r.Resource())+":getIamPolicy", nil, &out); err != nil {
		return nil, err
	}
	members := []string{}
	for _, b := range out.Bindings {
		if b.Role == RoleInvoker {
			members = append(members, b.Members...)
		}
	}
	return members, nil
}

// do sends one request and decodes a 2xx answer into out, or Google's error JSON into an
// *APIError.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.Endpoint, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("cloud run admin api: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	if err := c.Authorize(ctx, req); err != nil {
		return fmt.Errorf("access token for the Cloud Run Admin API: %w", err)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("cloud run admin api %s: %w", c.Endpoint, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("cloud run admin api: reading the answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error APIError `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error.Code == 0 {
			e.Error = APIError{Code: resp.StatusCode, Status: http.StatusText(resp.StatusCode)}
		}
		return &e.Error
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("cloud run admin api: malformed answer: %w", err)
	}
	return nil
}

// escapeResource escapes each segment of a resource name.
func escapeResource(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
