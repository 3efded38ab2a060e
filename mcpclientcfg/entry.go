package mcpclientcfg

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/cloudrun"
)

// A ServerEntry is one stdio MCP server as a client starts it: Command with Args, and Env
// added to the environment.
type ServerEntry struct {
	Name    string
	Command string
	Args    []string
	Env     map[string]string
}

// CommandLine is Command followed by Args, exactly as the client runs it.
func (e ServerEntry) CommandLine() []string {
	return append([]string{e.Command}, e.Args...)
}

var (
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	envKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// ValidateName checks that name is usable as a server name in every client: 1 to 64
// letters, digits, '-' or '_', starting with a letter or digit. (Claude Code rejects other
// characters, and the name is a bare TOML key for Codex.)
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("server name %q: use 1-64 letters, digits, '-' or '_', starting with a letter or digit", name)
	}
	return nil
}

// ValidateEnvKey checks that key is a portable environment variable name.
func ValidateEnvKey(key string) error {
	if !envKeyRE.MatchString(key) {
		return fmt.Errorf("environment variable name %q: use letters, digits and '_', not starting with a digit", key)
	}
	return nil
}

// Validate checks the entry's name, command and env keys.
func (e ServerEntry) Validate() error {
	if err := ValidateName(e.Name); err != nil {
		return err
	}
	if e.Command == "" {
		return fmt.Errorf("server %q: empty command", e.Name)
	}
	for k := range e.Env {
		if err := ValidateEnvKey(k); err != nil {
			return fmt.Errorf("server %q: %w", e.Name, err)
		}
	}
	return nil
}

// DefaultName derives a server name from an MCP endpoint URL: the Cloud Run service name
// for Cloud Run URLs (https://SERVICE-HASH-REGION.a.run.app/mcp and
// https://SERVICE-PROJECTNUMBER.REGION.run.app/mcp both give SERVICE), otherwise the first
// label of the host name.
func DefaultName(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("server name from --url: %w", err)
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "" {
		return "", fmt.Errorf("server name from --url %q: no host; pass --name", rawURL)
	}
	if net.ParseIP(host) != nil {
		return "", fmt.Errorf("server name from --url %q: the host is an IP address; pass --name", rawURL)
	}
	// A run.app host names the service (cloudrun knows its forms); other hosts give their
	// first label.
	name := cloudrun.ServiceName(rawURL)
	if name == "" {
		name, _, _ = strings.Cut(host, ".")
	}
	if err := ValidateName(name); err != nil {
		return "", fmt.Errorf("server name from --url %q: %w; pass --name", rawURL, err)
	}
	return name, nil
}
