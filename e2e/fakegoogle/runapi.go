package fakegoogle

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
)

// RunEndpointEnv is the environment variable through which mcp-cloudrun-proxy finds the Cloud
// Run Admin API; point it at [Server.URL].
const RunEndpointEnv = "MCP_CLOUDRUN_PROXY_RUN_ENDPOINT"

// Ingress values of a [RunService], as the Admin API v2 names them.
const (
	IngressAll                  = "INGRESS_TRAFFIC_ALL"
	IngressInternalOnly         = "INGRESS_TRAFFIC_INTERNAL_ONLY"
	IngressInternalLoadBalancer = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
)

// A RunService is a Cloud Run service as the fake Admin API v2 serves it, with its IAM policy.
type RunService struct {
	// Project is the project id; ProjectNumber, when set, is accepted in its place.
	Project, ProjectNumber, Region, Name string
	// URI is the service's main URL (e.g. a fakecloudrun origin); URLs are all of them.
	URI  string
	URLs []string
	// Ingress is one of the Ingress* constants; empty means IngressAll.
	Ingress            string
	InvokerIAMDisabled bool
	CustomAudiences    []string
	IAPEnabled         bool
	// Invokers are the members bound to roles/run.invoker: "user:EMAIL",
	// "serviceAccount:EMAIL", "allUsers", "allAuthenticatedUsers".
	Invokers []string
	// Viewers, when non-nil, are the only emails that may read the service (run.services.get,
	// list); nil lets every authenticated caller read it.
	Viewers []string
}

// Resource is projects/PROJECT/locations/REGION/services/NAME.
func (r RunService) Resource() string {
	return "projects/" + r.Project + "/locations/" + r.Region + "/services/" + r.Name
}

// MayInvoke reports whether the policy lets email (a token's email claim) invoke.
func (r RunService) MayInvoke(email string) bool {
	return r.InvokerIAMDisabled || r.inPolicy(email)
}

// inPolicy reports whether the IAM policy binds roles/run.invoker to email.
func (r RunService) inPolicy(email string) bool {
	if slices.Contains(r.Invokers, "allUsers") {
		return true
	}
	if email == "" {
		return false
	}
	return slices.Contains(r.Invokers, "allAuthenticatedUsers") || slices.Contains(r.Invokers, MemberOf(email))
}

// MemberOf is the IAM member for email.
func MemberOf(email string) string {
	if strings.HasSuffix(email, ".gserviceaccount.com") {
		return "serviceAccount:" + email
	}
	return "user:" + email
}

func (r RunService) mayRead(email string) bool {
	return r.Viewers == nil || slices.Contains(r.Viewers, email)
}

// PutRunService adds or replaces a service (keyed by project, region and name).
func (s *Server) PutRunService(r RunService) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runServices == nil {
		s.runServices = map[string]RunService{}
	}
	r.Invokers, r.URLs, r.CustomAudiences = slices.Clone(r.Invokers), slices.Clone(r.URLs), slices.Clone(r.CustomAudiences)
	s.runServices[r.Resource()] = r
}

// RunService returns the service named by resource (projects/P/locations/R/services/S, P an
// id or a number) as it is now.
func (s *Server) RunService(resource string) (RunService, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.findRunServiceLocked(resource)
}

// UpdateRunService applies f to the service named by resource, if it exists.
func (s *Server) UpdateRunService(resource string, f func(*RunService)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.findRunServiceLocked(resource)
	if !ok {
		return false
	}
	f(&r)
	s.runServices[r.Resource()] = r
	return true
}

// RunAPIRequests is how many Admin API requests the fake answered, by method (get, list,
// testIamPermissions, getIamPolicy).
func (s *Server) RunAPIRequests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.runCalls {
		out[k] = v
	}
	return out
}

func (s *Server) findRunServiceLocked(resource string) (RunService, bool) {
	p := strings.Split(resource, "/")
	if len(p) != 6 {
		return RunService{}, false
	}
	for _, r := range s.runServices {
		if (r.Project == p[1] || (r.ProjectNumber != "" && r.ProjectNumber == p[1])) && r.Region == p[3] && r.Name == p[5] {
			return r, true
		}
	}
	return RunService{}, false
}

func (s *Server) countRun(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runCalls == nil {
		s.runCalls = map[string]int{}
	}
	s.runCalls[method]++
}

// runCaller checks the Bearer access token and returns its principal, or answers 401.
func (s *Server) runCaller(w http.ResponseWriter, r *http.Request) (string, bool) {
	bearer, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found {
		apiError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return "", false
	}
	email, ok := s.principalOfAccessToken(bearer)
	if !ok {
		apiError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return "", false
	}
	return email, true
}

func (s *Server) runHandlers(mux *http.ServeMux) {
	const base = "/v2/projects/{project}/locations/{region}/services"
	mux.HandleFunc("GET "+base, s.serveRunList)
	mux.HandleFunc("GET "+base+"/{nameAndMethod}", s.serveRunGet)
	mux.HandleFunc("POST "+base+"/{nameAndMethod}", s.serveRunTest)
}

// serveRunGet answers services.get and :getIamPolicy.
func (s *Server) serveRunGet(w http.ResponseWriter, r *http.Request) {
	email, ok := s.runCaller(w, r)
	if !ok {
		return
	}
	name, method, _ := strings.Cut(r.PathValue("nameAndMethod"), ":")
	project, region := r.PathValue("project"), r.PathValue("region")
	s.countRun(firstNonEmpty(method, "get"))
	svc, found := s.RunService("projects/" + project + "/locations/" + region + "/services/" + name)
	switch {
	case method != "" && method != "getIamPolicy":
		apiError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("unknown method %q", method))
	case found && !svc.mayRead(email), !found && !s.anyReadable(project, email):
		apiError(w, http.StatusForbidden, "PERMISSION_DENIED", fmt.Sprintf("Permission 'run.services.get' denied on resource 'namespaces/%s/services/%s' (or resource may not exist).", project, name))
	case !found:
		apiError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("Resource '%s' of kind 'SERVICE' in region '%s' in project '%s' does not exist.", name, region, project))
	case method == "getIamPolicy":
		var bindings []any
		if len(svc.Invokers) > 0 {
			bindings = append(bindings, map[string]any{"role": "roles/run.invoker", "members": svc.Invokers})
		}
		writeJSON(w, http.StatusOK, map[string]any{"version": 1, "etag": "BwYfake=", "bindings": bindings})
	default:
		writeJSON(w, http.StatusOK, svc.v2())
	}
}

// anyReadable reports whether email may read some service of project (so that a missing
// service is a 404 to it and a 403 to a caller without run.services.get at all).
func (s *Server) anyReadable(project, email string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.runServices {
		if (r.Project == project || r.ProjectNumber == project) && !r.mayRead(email) {
			return false
		}
	}
	return true
}

func (s *Server) serveRunList(w http.ResponseWriter, r *http.Request) {
	email, ok := s.runCaller(w, r)
	if !ok {
		return
	}
	s.countRun("list")
	project, region := r.PathValue("project"), r.PathValue("region")
	if !s.anyReadable(project, email) {
		apiError(w, http.StatusForbidden, "PERMISSION_DENIED", fmt.Sprintf("Permission 'run.services.list' denied on resource 'namespaces/%s' (or resource may not exist).", project))
		return
	}
	s.mu.Lock()
	var list []map[string]any
	var keys []string
	for k, svc := range s.runServices {
		if (svc.Project == project || svc.ProjectNumber == project) && (region == "-" || region == svc.Region) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		list = append(list, s.runServices[k].v2())
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"services": list})
}

// serveRunTest answers :testIamPermissions with the permissions the caller holds.
func (s *Server) serveRunTest(w http.ResponseWriter, r *http.Request) {
	email, ok := s.runCaller(w, r)
	if !ok {
		return
	}
	name, method, _ := strings.Cut(r.PathValue("nameAndMethod"), ":")
	if method != "testIamPermissions" {
		apiError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("unknown method %q", method))
		return
	}
	s.countRun(method)
	var body struct {
		Permissions []string `json:"permissions"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		apiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received.")
		return
	}
	svc, found := s.RunService("projects/" + r.PathValue("project") + "/locations/" + r.PathValue("region") + "/services/" + name)
	if !found {
		apiError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("Resource '%s' of kind 'SERVICE' does not exist.", name))
		return
	}
	held := []string{}
	for _, p := range body.Permissions {
		if (p == "run.routes.invoke" && svc.inPolicy(email)) || (p == "run.services.get" && svc.mayRead(email)) {
			held = append(held, p)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"permissions": held})
}

// v2 is the service as the Admin API v2 answers.
func (r RunService) v2() map[string]any {
	ingress := r.Ingress
	if ingress == "" {
		ingress = IngressAll
	}
	urls := r.URLs
	if len(urls) == 0 && r.URI != "" {
		urls = []string{r.URI}
	}
	m := map[string]any{"name": r.Resource(), "uri": r.URI, "urls": urls, "ingress": ingress}
	if r.InvokerIAMDisabled {
		m["invokerIamDisabled"] = true
	}
	if len(r.CustomAudiences) > 0 {
		m["customAudiences"] = r.CustomAudiences
	}
	if r.IAPEnabled {
		m["iapEnabled"] = true
	}
	return m
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
