package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakecloudrun"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e/fakegoogle"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// protocolVersion is what both clients ask for, so that both run the same handshake.
const protocolVersion = "2025-11-25"

// world is one fake Google and one fake Cloud Run, with a service account key that both
// paths use to get their ID tokens.
type world struct {
	google *fakegoogle.Server   // nil when the fakes run in another process
	crun   *fakecloudrun.Server // nil when the fakes run in another process
	url    string               // the MCP endpoint
	origin string               // the audience
	env    []string             // the proxy's environment
	args   []string             // extra arguments of `run`
	dir    string
	key    string // the service account key file
	// stateless is a second fake Cloud Run serving only protocol 2026-07-28, statelessly;
	// nil when the fakes run in another process.
	stateless *fakecloudrun.Server
}

func newWorld() (*world, error) {
	dir, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return nil, fmt.Errorf("create temp dir: %w", err)
	}
	w := &world{dir: dir}
	if w.google, err = fakegoogle.New(fakegoogle.Options{}); err != nil {
		w.close()
		return nil, err
	}
	if w.crun, err = fakecloudrun.New(fakecloudrun.Options{Google: w.google}); err != nil {
		w.close()
		return nil, err
	}
	if w.stateless, err = fakecloudrun.New(fakecloudrun.Options{Google: w.google, Stateless: true, ProtocolVersions: []string{"2026-07-28"}}); err != nil {
		w.close()
		return nil, err
	}
	su, err := w.google.Setup(fakegoogle.ServiceAccountKey, dir, fakegoogle.SetupOptions{})
	if err != nil {
		w.close()
		return nil, err
	}
	w.url, w.origin, w.env, w.args = w.crun.URL(), w.crun.Origin(), su.Env, su.Args
	if err := w.finish(); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// newExternalWorld uses a fakecloudrun command already running (e.g. to put the server in
// a process of its own, as Cloud Run always is): its URL and its env_file.
func newExternalWorld(url, envFile string) (*world, error) {
	dir, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return nil, fmt.Errorf("create temp dir: %w", err)
	}
	w := &world{dir: dir, url: url}
	b, err := os.ReadFile(envFile)
	if err != nil {
		w.close()
		return nil, fmt.Errorf("read the fakecloudrun env file: %w", err)
	}
	w.env = strings.Split(strings.TrimSpace(string(b)), "\n")
	u, err := neturl.Parse(url)
	if err != nil {
		w.close()
		return nil, fmt.Errorf("parse --url: %w", err)
	}
	w.origin = u.Scheme + "://" + u.Host
	if err := w.finish(); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// finish finds the service account key and gives the proxy a temp dir of its own.
func (w *world) finish() error {
	for _, kv := range w.env {
		if k, v, _ := strings.Cut(kv, "="); k == "GOOGLE_APPLICATION_CREDENTIALS" {
			w.key = v
		}
	}
	if w.key == "" {
		return errors.New("the environment names no service account key (GOOGLE_APPLICATION_CREDENTIALS); the bench needs credentials of kind service-account-key")
	}
	tmp := filepath.Join(w.dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	w.env = append(w.env, "TMPDIR="+tmp)
	return nil
}

func (w *world) close() {
	if w.crun != nil {
		w.crun.Close()
	}
	if w.stateless != nil {
		w.stateless.Close()
	}
	if w.google != nil {
		w.google.Close()
	}
	os.RemoveAll(w.dir)
}

// A conn is one connected MCP client session, direct or through a proxy process.
type conn struct {
	cs  *mcp.ClientSession
	pid int // the proxy's process id; 0 for the direct client
}

// A dialer connects a new client session, cold: a new HTTP transport (and a new token) or
// a new proxy process.
type dialer func(ctx context.Context) (*conn, error)

func newClient() *mcp.Client {
	return mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
}

// dialDirect is the baseline: the go-sdk client over Streamable HTTP with a bearer token it
// fetched itself, and a connection pool as large as the proxy's.
func (w *world) dialDirect(ctx context.Context) (*conn, error) {
	return w.dialDirectAt(ctx, w.url, w.origin, protocolVersion)
}

// dialDirectAt connects the baseline client to url asking for protocol version pv ("" for
// the client's default: 2026-07-28 first).
func (w *world) dialDirectAt(ctx context.Context, url, origin, pv string) (*conn, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConns = 512
	base.MaxIdleConnsPerHost = 256
	base.ForceAttemptHTTP2 = true
	token, err := fetchIDToken(ctx, &http.Client{Transport: base}, w.key, origin)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: &bearer{token: token, next: base}}
	t := &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: hc}
	cs, err := newClient().Connect(ctx, t, &mcp.ClientSessionOptions{ProtocolVersion: pv})
	if err != nil {
		return nil, fmt.Errorf("connect directly: %w", err)
	}
	return &conn{cs: cs}, nil
}

// dialProxy runs `mcp-cloudrun-proxy run` as an MCP client would and connects through it.
func (w *world) dialProxy(bin string, extraEnv []string) dialer {
	return w.dialProxyAt(bin, extraEnv, w.url, protocolVersion)
}

// dialProxyAt runs the proxy against url and connects through it asking for protocol
// version pv ("" for the client's default).
func (w *world) dialProxyAt(bin string, extraEnv []string, url, pv string) dialer {
	return func(ctx context.Context) (*conn, error) {
		cmd := exec.Command(bin, append([]string{"run", "--url", url}, w.args...)...)
		cmd.Env = append(append([]string{}, w.env...), extraEnv...)
		cmd.Dir = w.dir
		stderr := &tailBuffer{}
		cmd.Stderr = stderr
		cs, err := newClient().Connect(ctx, &mcp.CommandTransport{Command: cmd}, &mcp.ClientSessionOptions{ProtocolVersion: pv})
		if err != nil {
			if cmd.Process != nil {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			}
			return nil, fmt.Errorf("connect through the proxy: %w\nproxy stderr:\n%s", err, stderr)
		}
		return &conn{cs: cs, pid: cmd.Process.Pid}, nil
	}
}

// stdioFloor runs the proxy on raw pipes and times n lines it answers itself (a parse
// error, nothing sent upstream) after a warm-up: the cost of the stdio hop alone.
func (w *world) stdioFloor(bin string, extraEnv []string, n int) (time.Duration, error) {
	cmd := exec.Command(bin, append([]string{"run", "--url", w.url}, w.args...)...)
	cmd.Env = append(append([]string{}, w.env...), extraEnv...)
	cmd.Dir = w.dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start the proxy: %w", err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	br := bufio.NewReader(stdout)
	var took []time.Duration
	for i := range n + n/4 {
		start := time.Now()
		if _, err := fmt.Fprintf(stdin, "not json %d\n", i); err != nil {
			return 0, fmt.Errorf("write to the proxy: %w", err)
		}
		line, err := br.ReadBytes('\n')
		if err != nil {
			return 0, fmt.Errorf("read from the proxy: %w", err)
		}
		if !strings.Contains(string(line), "-32700") {
			return 0, fmt.Errorf("want a parse error, got %q", line)
		}
		if i >= n/4 {
			took = append(took, time.Since(start))
		}
	}
	return median(took), nil
}

// bearer adds the Authorization header, as the proxy does.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// fetchIDToken does what a Google client library does with a service account key: a signed
// JWT-bearer assertion with target_audience, exchanged at the key's token_uri for an ID token.
func fetchIDToken(ctx context.Context, hc *http.Client, keyFile, audience string) (string, error) {
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return "", fmt.Errorf("read service account key: %w", err)
	}
	var key struct {
		PrivateKey  string `json:"private_key"`
		ClientEmail string `json:"client_email"`
		TokenURI    string `json:"token_uri"`
	}
	if err := json.Unmarshal(b, &key); err != nil {
		return "", fmt.Errorf("parse service account key: %w", err)
	}
	pk, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(key.PrivateKey))
	if err != nil {
		return "", fmt.Errorf("parse private key: %w", err)
	}
	now := time.Now()
	assertion, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": key.ClientEmail, "sub": key.ClientEmail, "aud": key.TokenURI,
		"target_audience": audience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).SignedString(pk)
	if err != nil {
		return "", fmt.Errorf("sign assertion: %w", err)
	}
	form := neturl.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, key.TokenURI, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("token endpoint: %w", err)
	}
	defer resp.Body.Close()
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.IDToken == "" {
		return "", fmt.Errorf("token endpoint answered HTTP %d without an ID token (%v)", resp.StatusCode, err)
	}
	return tok.IDToken, nil
}
