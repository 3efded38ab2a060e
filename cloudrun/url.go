package cloudrun

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// A Ref names a service: its name, region and project (an id or a number); empty fields are
// unknown.
type Ref struct {
	Name, Region, Project string
}

// Resource is the Admin API resource name, projects/P/locations/R/services/S.
func (r Ref) Resource() string {
	return "projects/" + r.Project + "/locations/" + r.Region + "/services/" + r.Name
}

// String is "SERVICE in REGION of project PROJECT", with placeholders for unknown parts.
func (r Ref) String() string {
	return fmt.Sprintf("%s in %s of project %s", r.name(), r.region(), r.project())
}

func (r Ref) name() string    { return firstOf(r.Name, "SERVICE") }
func (r Ref) region() string  { return firstOf(r.Region, "REGION") }
func (r Ref) project() string { return firstOf(r.Project, "PROJECT") }

// Complete reports whether name, region and project are all known.
func (r Ref) Complete() bool { return r.Name != "" && r.Region != "" && r.Project != "" }

// refFromResource parses projects/P/locations/R/services/S.
func refFromResource(name string) Ref {
	p := strings.Split(name, "/")
	if len(p) != 6 || p[0] != "projects" || p[2] != "locations" || p[4] != "services" {
		return Ref{}
	}
	return Ref{Project: p[1], Region: p[3], Name: p[5]}
}

// A URLInfo is what a service URL says about the service.
type URLInfo struct {
	// Ref has the name always for run.app hosts, and region and project number only for
	// deterministic URLs (SERVICE-PROJECT_NUMBER.REGION.run.app).
	Ref Ref
	// Deterministic is true for SERVICE-PROJECT_NUMBER.REGION.run.app hosts.
	Deterministic bool
	// Why says why the name, region or project is unknown; empty for deterministic URLs.
	Why string
}

var (
	// regionName is a Cloud Run region such as us-central1 or europe-west4.
	regionName = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+$`)
	digits     = regexp.MustCompile(`^[0-9]+$`)
)

// ParseURL reads what a run.app URL says. Deterministic URLs
// (https://SERVICE-PROJECT_NUMBER.REGION.run.app) carry name, region and project number; the
// older hash URLs (https://SERVICE-HASH-CODE.a.run.app) carry a region code, which does not
// name the region. Other hosts (custom domains, load balancers, local servers) say nothing.
func ParseURL(rawURL string) URLInfo {
	u, err := url.Parse(rawURL)
	if err != nil {
		return URLInfo{Why: "the URL does not parse"}
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if net.ParseIP(host) != nil || !strings.HasSuffix(host, ".run.app") {
		return URLInfo{Why: "the host is not a run.app address (a custom domain, a load balancer or a local server), so the service name and region cannot be derived from it"}
	}
	labels := strings.Split(host, ".")
	if label, ok := strings.CutSuffix(host, ".a.run.app"); ok && len(labels) == 4 {
		parts := strings.Split(label, "-")
		if len(parts) < 3 {
			return URLInfo{Why: "the run.app host does not have the SERVICE-HASH-REGIONCODE form"}
		}
		code := parts[len(parts)-1]
		return URLInfo{Ref: Ref{Name: strings.Join(parts[:len(parts)-2], "-")},
			Why: fmt.Sprintf("the host carries the region code %q, which does not name the region", code)}
	}
	if len(labels) != 4 {
		return URLInfo{Why: "the run.app host does not have the SERVICE-PROJECT_NUMBER.REGION form"}
	}
	label, region := labels[0], labels[1]
	i := strings.LastIndex(label, "-")
	if i <= 0 || !digits.MatchString(label[i+1:]) || !regionName.MatchString(region) {
		return URLInfo{Why: "the run.app host does not have the SERVICE-PROJECT_NUMBER.REGION form"}
	}
	return URLInfo{Ref: Ref{Name: label[:i], Region: region, Project: label[i+1:]}, Deterministic: true}
}

// ServiceName is the Cloud Run service name a run.app URL carries, or "" for other hosts.
func ServiceName(rawURL string) string { return ParseURL(rawURL).Ref.Name }

// Origin is scheme://host[:port] of rawURL, which is what Cloud Run expects in aud: the host
// in lower case and a port only when it is not the scheme's default.
func Origin(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" || (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		return scheme + "://" + host
	}
	return scheme + "://" + host + ":" + port
}

// JoinPath is base (a service uri) with path appended: "/mcp" by default.
func JoinPath(base, path string) string {
	if path == "" {
		path = "/mcp"
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return strings.TrimSuffix(base, "/") + path
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
