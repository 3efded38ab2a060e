package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
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
	google *fakegoogle.Server
	crun   *fakecloudrun.Server
	setup  *fakegoogle.Setup
	dir    string
	key    string // the service account key file
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
	if w.setup, err = w.google.Setup(fakegoogle.ServiceAccountKey, dir, fakegoogle.SetupOptions{}); err != nil {
		w.close()
		return nil, err
	}
	for _, kv := range w.setup.Env {
		if k, v, _ := strings.Cut(kv, "="); k == "GOOGLE_APPLICATION_CREDENTIALS" {
			w.key = v
		}
	}
	if w.key == "" {
		w.close()
		return nil, errors.New("fakegoogle setup wrote no service account key")
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		w.close()
		return nil, err
	}
	w.setup.Env = append(w.setup.Env, "TMPDIR="+tmp)
	return w, nil
}

func (w *world) close() {
	if w.crun != nil {
		w.crun.Close()
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
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConns = 512
	base.MaxIdleConnsPerHost = 256
	base.ForceAttemptHTTP2 = true
	token, err := fetchIDToken(ctx, &http.Client{Transport: base}, w.key, w.crun.Origin())
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: &bearer{token: token, next: base}}
	t := &mcp.StreamableClientTransport{Endpoint: w.crun.URL(), HTTPClient: hc}
	cs, err := newClient().Connect(ctx, t, &mcp.ClientSessionOptions{ProtocolVersion: protocolVersion})
	if err != nil {
		return nil, fmt.Errorf("connect directly: %w", err)
	}
	return &conn{cs: cs}, nil
}

// dialProxy runs `mcp-cloudrun-proxy run` as an MCP client would and connects through it.
func (w *world) dialProxy(bin string) dialer {
	return func(ctx context.Context) (*conn, error) {
		cmd := exec.Command(bin, append([]string{"run", "--url", w.crun.URL()}, w.setup.Args...)...)
		cmd.Env = w.setup.Env
		cmd.Dir = w.dir
		stderr := &tailBuffer{}
		cmd.Stderr = stderr
		cs, err := newClient().Connect(ctx, &mcp.CommandTransport{Command: cmd}, &mcp.ClientSessionOptions{ProtocolVersion: protocolVersion})
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
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}
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
