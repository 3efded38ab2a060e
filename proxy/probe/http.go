package probe

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy/internal/sse"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy/internal/wire"
)

// ProtocolVersion is the MCP revision offered in initialize; the server answers with the one
// it picks.
const ProtocolVersion = "2025-11-25"

// maxBody bounds how much of one answer is read: enough for a large tools/list.
const maxBody = 32 << 20

// Config configures a [Prober]. Only URL is required.
type Config struct {
	// URL is the Streamable HTTP MCP endpoint.
	URL string
	// HTTPClient makes the requests; nil means a client with bounded connection and TLS
	// set-up and no retries. Redirects are never followed whatever its policy: a redirect is
	// reported, since the relay does not follow them either.
	HTTPClient *http.Client
	// UserAgent is sent with every request; "" means "mcp-cloudrun-proxy".
	UserAgent string
	// ClientVersion is the clientInfo.version sent in initialize; "" means "dev".
	ClientVersion string
}

// A Prober sends the requests of the network steps. Each step's deadline comes from the
// context given to it.
type Prober struct {
	cfg  Config
	url  *url.URL
	http *http.Client
}

// New checks cfg and returns a [Prober].
func New(cfg Config) (*Prober, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("probe: URL %q: %w", cfg.URL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("probe: URL %q: want http(s)://host/path", cfg.URL)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "mcp-cloudrun-proxy"
	}
	if cfg.ClientVersion == "" {
		cfg.ClientVersion = "dev"
	}
	client := cfg.HTTPClient
	if client == nil {
		client = newHTTPClient()
	}
	noRedirects := *client
	noRedirects.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Prober{cfg: cfg, url: u, http: &noRedirects}, nil
}

// newHTTPClient returns the default client: bounded connection and TLS set-up, no retries
// (a debug run wants to see the first answer) and no overall timeout (contexts bound it).
func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	return &http.Client{Transport: t}
}

// An exchange is what one request brought back: a status or a network error.
type exchange struct {
	status      int
	header      http.Header
	body        []byte
	contentType string // media type, without parameters
	elapsed     time.Duration
	err         error // a *NetError when no answer arrived
}

// request is one request to the endpoint.
type request struct {
	method    string
	body      []byte
	token     string
	session   string
	protocol  string
	onlyFirst bool // stop reading an event stream at the first JSON-RPC response
	extra     map[string]string
}

// do sends r and reads the answer (a JSON body, or an event stream up to the first response
// when r.onlyFirst). It never returns the token in any field.
func (p *Prober) do(ctx context.Context, r request) exchange {
	req, err := p.newRequest(ctx, r.method, r.body, r.token)
	if err != nil {
		return exchange{err: err}
	}
	h := req.Header
	if r.session != "" {
		h.Set(wire.HeaderSessionID, r.session)
	}
	if r.protocol != "" {
		h.Set(wire.HeaderProtocolVersion, r.protocol)
	}
	for k, v := range r.extra {
		h.Set(k, v)
	}
	start := time.Now()
	resp, err := p.http.Do(req)
	if err != nil {
		return exchange{elapsed: time.Since(start), err: classify(err, p.url.Host)}
	}
	defer resp.Body.Close()
	ex := exchange{status: resp.StatusCode, header: resp.Header}
	ex.contentType, _, _ = mime.ParseMediaType(resp.Header.Get("Content-Type"))
	limited := io.LimitReader(resp.Body, maxBody)
	if ex.contentType == "text/event-stream" && resp.StatusCode/100 == 2 && r.onlyFirst {
		// A stream may stay open after the response (and a standalone one forever), so stop
		// at the first message that answers a request.
		var buf bytes.Buffer
		err = sse.Data(limited, func(data []byte) bool {
			if isResponse(data) {
				buf.Write(data)
				return false
			}
			return true
		})
		ex.body = buf.Bytes()
	} else {
		ex.body, err = io.ReadAll(limited)
	}
	ex.elapsed = time.Since(start)
	if err != nil {
		ex.err = fmt.Errorf("reading the answer to %s failed after HTTP %d: %w", r.method, resp.StatusCode, classify(err, p.url.Host))
	}
	return ex
}

// newRequest is a request to the endpoint with the prober's User-Agent, the content
// negotiation of Streamable HTTP and, when token is set, the bearer token.
func (p *Prober) newRequest(ctx context.Context, method string, body []byte, token string) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.url.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("build %s request: %w", method, err)
	}
	h := req.Header
	h.Set("User-Agent", p.cfg.UserAgent)
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return req, nil
}

// excerpt is the answer's body as a short, token-free text.
func (ex exchange) excerpt(token string) string {
	return wire.Excerpt(ex.body, token)
}

// A NetError is a request that got no HTTP answer; see [wire.NetError].
type NetError = wire.NetError

// NetErrorKind names a kind of network failure.
type NetErrorKind = wire.NetErrorKind

// The kinds of [NetError].
const (
	DNS        = wire.DNS
	TLS        = wire.TLS
	Refused    = wire.Refused
	Timeout    = wire.Timeout
	Connection = wire.Connection
)

func classify(err error, host string) *NetError { return wire.Classify(err, host) }
