package tokens

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testKey signs every JWT the fakes mint and is the private key of the fake service account.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

const (
	testAudience      = "https://svc-xyz.a.run.app"
	testSAEmail       = "sa@proj.iam.gserviceaccount.com"
	testUserEmail     = "user@example.com"
	testUserClientID  = "764086051850-adc.apps.googleusercontent.com"
	testMetadataEmail = "vm@proj.iam.gserviceaccount.com"
	testTargetEmail   = "target@proj.iam.gserviceaccount.com"
	gcloudAudience    = "32555940559.apps.googleusercontent.com"
	testRefreshToken  = "1//refresh-secret-value"
	testClientSecret  = "client-secret-value"
)

// mintJWT signs claims with testKey (RS256).
func mintJWT(claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "test"})
	p, _ := json.Marshal(claims)
	signing := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, testKey(), crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// verifyJWT checks an RS256 JWT against testKey and returns its claims.
func verifyJWT(raw string) (map[string]any, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("not a JWT")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&testKey().PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return nil, fmt.Errorf("bad signature: %w", err)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var c map[string]any
	return c, json.Unmarshal(b, &c)
}

// fakeClock is a manual clock. After registers a timer that fires when Advance passes its
// deadline; every After call is also reported on calls so tests can wait for the refresher.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
	calls   chan time.Duration
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Unix(1_900_000_000, 0), calls: make(chan time.Duration, 1000)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
	} else {
		c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	}
	c.calls <- d
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// nextAfter waits for the next After call and returns its duration.
func (c *fakeClock) nextAfter(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-c.calls:
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("the refresher never set a timer")
		return 0
	}
}

// fakeGoogle is one httptest server playing the OAuth token endpoint, STS, the metadata
// server and IAM Credentials. It records every secret it hands out so tests can assert none
// leaks into logs or errors.
type fakeGoogle struct {
	t     *testing.T
	srv   *httptest.Server
	clock *fakeClock

	mu               sync.Mutex
	counts           map[string]int // by endpoint name
	issued           map[string]string
	secrets          []string
	failNext         map[string]int // endpoint -> remaining 503s
	iamCalls         []iamCall
	idLifetime       time.Duration
	metadataLifetime time.Duration
	block            map[string]chan struct{} // endpoint -> closed to release the next request
	started          chan string              // endpoint names as requests arrive
	serial           int
	denyIAM          bool
}

type iamCall struct {
	Email, Audience, BearerKind string
	Delegates                   []string
	IncludeEmail                bool
	Scope                       []string // generateAccessToken only
}

func newFakeGoogle(t *testing.T, clock *fakeClock) *fakeGoogle {
	fg := &fakeGoogle{
		t: t, clock: clock,
		counts: map[string]int{}, issued: map[string]string{}, failNext: map[string]int{},
		block:            map[string]chan struct{}{},
		started:          make(chan string, 1000),
		idLifetime:       time.Hour,
		metadataLifetime: time.Hour,
		secrets:          []string{testRefreshToken, testClientSecret},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", fg.token)
	mux.HandleFunc("POST /sts", fg.sts)
	mux.HandleFunc("GET /computeMetadata/v1/instance/service-accounts/default/{what}", fg.metadata)
	mux.HandleFunc("POST /v1/projects/-/serviceAccounts/{call}", fg.iam)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		// The metadata server's root, which the reachability probe reads.
		w.Header().Set("Metadata-Flavor", "Google")
		fmt.Fprintln(w, "computeMetadata/")
	})
	fg.srv = httptest.NewServer(mux)
	t.Cleanup(fg.srv.Close)
	return fg
}

func (fg *fakeGoogle) host() string { return strings.TrimPrefix(fg.srv.URL, "http://") }

// enter counts a request and applies failure injection and blocking; false means it answered.
func (fg *fakeGoogle) enter(w http.ResponseWriter, name string) bool {
	fg.mu.Lock()
	fg.counts[name]++
	fail := fg.failNext[name] > 0
	if fail {
		fg.failNext[name]--
	}
	block := fg.block[name]
	delete(fg.block, name)
	fg.mu.Unlock()
	fg.started <- name
	if block != nil {
		<-block
	}
	if fail {
		http.Error(w, `{"error":"temporarily_unavailable"}`, http.StatusServiceUnavailable)
		return false
	}
	return true
}

func (fg *fakeGoogle) count(name string) int {
	fg.mu.Lock()
	defer fg.mu.Unlock()
	return fg.counts[name]
}

func (fg *fakeGoogle) failTimes(name string, n int) {
	fg.mu.Lock()
	defer fg.mu.Unlock()
	fg.failNext[name] = n
}

// blockNext makes the next request to name wait until the returned func is called.
func (fg *fakeGoogle) blockNext(name string) (release func()) {
	ch := make(chan struct{})
	fg.mu.Lock()
	fg.block[name] = ch
	fg.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

func (fg *fakeGoogle) allSecrets() []string {
	fg.mu.Lock()
	defer fg.mu.Unlock()
	return append([]string(nil), fg.secrets...)
}

func (fg *fakeGoogle) remember(s string) {
	fg.mu.Lock()
	defer fg.mu.Unlock()
	fg.secrets = append(fg.secrets, s)
}

// idToken mints an ID token the way Google would.
func (fg *fakeGoogle) idToken(aud, email string, lifetime time.Duration, extra map[string]any) string {
	fg.mu.Lock()
	fg.serial++
	n := fg.serial
	fg.mu.Unlock()
	now := fg.clock.Now()
	c := map[string]any{
		"iss": "https://accounts.google.com", "aud": aud, "sub": "1000" + fmt.Sprint(n),
		"iat": now.Unix(), "exp": now.Add(lifetime).Unix(), "jti": fmt.Sprint(n),
	}
	if email != "" {
		c["email"] = email
		c["email_verified"] = true
	}
	for k, v := range extra {
		c[k] = v
	}
	tok := mintJWT(c)
	fg.remember(tok)
	return tok
}

func (fg *fakeGoogle) accessToken(kind string) string {
	fg.mu.Lock()
	defer fg.mu.Unlock()
	fg.serial++
	tok := fmt.Sprintf("ya29.%s-%d", kind, fg.serial)
	fg.issued[tok] = kind
	fg.secrets = append(fg.secrets, tok)
	return tok
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (fg *fakeGoogle) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		if !fg.enter(w, "token:jwt-bearer") {
			return
		}
		assertion := r.PostForm.Get("assertion")
		fg.remember(assertion)
		c, err := verifyJWT(assertion)
		if err != nil {
			http.Error(w, `{"error":"invalid_grant","error_description":"`+err.Error()+`"}`, 400)
			return
		}
		if c["aud"] != fg.srv.URL+"/token" || c["iss"] != testSAEmail {
			http.Error(w, `{"error":"invalid_grant","error_description":"bad aud or iss"}`, 400)
			return
		}
		if ta, _ := c["target_audience"].(string); ta != "" {
			writeJSON(w, map[string]any{"id_token": fg.idToken(ta, testSAEmail, fg.idLifetime, map[string]any{"azp": testSAEmail})})
			return
		}
		if c["scope"] != cloudPlatformScope {
			http.Error(w, `{"error":"invalid_scope"}`, 400)
			return
		}
		writeJSON(w, map[string]any{"access_token": fg.accessToken("sa"), "token_type": "Bearer", "expires_in": 3599})
	case "refresh_token":
		if !fg.enter(w, "token:refresh") {
			return
		}
		if r.PostForm.Get("refresh_token") != testRefreshToken || r.PostForm.Get("client_secret") != testClientSecret || r.PostForm.Get("client_id") != testUserClientID {
			http.Error(w, `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`, 400)
			return
		}
		writeJSON(w, map[string]any{
			"access_token": fg.accessToken("user"), "token_type": "Bearer", "expires_in": 3599,
			"id_token": fg.idToken(testUserClientID, testUserEmail, fg.idLifetime, map[string]any{"azp": testUserClientID}),
		})
	default:
		http.Error(w, `{"error":"unsupported_grant_type"}`, 400)
	}
}

func (fg *fakeGoogle) sts(w http.ResponseWriter, r *http.Request) {
	if !fg.enter(w, "sts") {
		return
	}
	_ = r.ParseForm()
	if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange" || r.PostForm.Get("subject_token") != "federated-subject-token" {
		http.Error(w, `{"error":"invalid_grant"}`, 400)
		return
	}
	writeJSON(w, map[string]any{"access_token": fg.accessToken("federated"), "issued_token_type": "urn:ietf:params:oauth:token-type:access_token", "token_type": "Bearer", "expires_in": 3600})
}

func (fg *fakeGoogle) metadata(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Metadata-Flavor") != "Google" {
		http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
		return
	}
	w.Header().Set("Metadata-Flavor", "Google")
	what := r.PathValue("what")
	if !fg.enter(w, "metadata:"+what) {
		return
	}
	switch what {
	case "email":
		fmt.Fprint(w, testMetadataEmail)
	case "identity":
		aud := r.URL.Query().Get("audience")
		if aud == "" || r.URL.Query().Get("format") != "full" {
			http.Error(w, "audience and format=full required", 400)
			return
		}
		fmt.Fprint(w, fg.idToken(aud, testMetadataEmail, fg.metadataLifetime, map[string]any{"azp": "1234"}))
	case "token":
		writeJSON(w, map[string]any{"access_token": fg.accessToken("metadata"), "token_type": "Bearer", "expires_in": 3599})
	default:
		http.NotFound(w, r)
	}
}

func (fg *fakeGoogle) iam(w http.ResponseWriter, r *http.Request) {
	email, method, _ := strings.Cut(r.PathValue("call"), ":")
	if method != "generateIdToken" && method != "generateAccessToken" {
		http.NotFound(w, r)
		return
	}
	if !fg.enter(w, "iam") {
		return
	}
	bearer := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	fg.mu.Lock()
	kind, ok := fg.issued[bearer]
	deny := fg.denyIAM
	fg.mu.Unlock()
	if !ok {
		// What Google answers to google-cloud-go#19939's credential-less calls.
		http.Error(w, `{"error":{"code":401,"message":"Request is missing required authentication credential.","status":"UNAUTHENTICATED"}}`, http.StatusUnauthorized)
		return
	}
	if deny {
		http.Error(w, `{"error":{"code":403,"message":"Permission 'iam.serviceAccounts.getOpenIdToken' denied","status":"PERMISSION_DENIED"}}`, http.StatusForbidden)
		return
	}
	var body struct {
		Audience     string   `json:"audience"`
		IncludeEmail bool     `json:"includeEmail"`
		Delegates    []string `json:"delegates"`
		Scope        []string `json:"scope"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err == nil && method == "generateAccessToken" {
		fg.mu.Lock()
		fg.iamCalls = append(fg.iamCalls, iamCall{Email: email, BearerKind: kind, Delegates: body.Delegates, Scope: body.Scope})
		fg.mu.Unlock()
		writeJSON(w, map[string]any{"accessToken": fg.accessToken("impersonated:" + email), "expireTime": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
		return
	}
	if body.Audience == "" {
		http.Error(w, `{"error":{"code":400,"message":"audience required"}}`, 400)
		return
	}
	fg.mu.Lock()
	fg.iamCalls = append(fg.iamCalls, iamCall{Email: email, Audience: body.Audience, BearerKind: kind, Delegates: body.Delegates, IncludeEmail: body.IncludeEmail})
	fg.mu.Unlock()
	extra := map[string]any{"azp": "1111"}
	e := ""
	if body.IncludeEmail {
		e = email
	}
	writeJSON(w, map[string]any{"token": fg.idToken(body.Audience, e, fg.idLifetime, extra)})
}

func (fg *fakeGoogle) iamLog() []iamCall {
	fg.mu.Lock()
	defer fg.mu.Unlock()
	return append([]iamCall(nil), fg.iamCalls...)
}

// testEnv is a hermetic environment: temp HOME, no gcloud on PATH, no metadata probe.
type testEnv struct {
	t    *testing.T
	vars map[string]string
	home string
	bin  string // on PATH; gcloud goes here when installed
	fg   *fakeGoogle
	clk  *fakeClock
	logs *syncBuffer
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	clk := newFakeClock()
	te := &testEnv{t: t, home: t.TempDir(), bin: t.TempDir(), clk: clk, logs: &syncBuffer{}}
	te.fg = newFakeGoogle(t, clk)
	te.vars = map[string]string{
		"HOME":        te.home,
		"PATH":        te.bin, // never a real gcloud
		envNoGCECheck: "true",
	}
	t.Cleanup(func() { te.assertNoSecrets(te.logs.String(), "logs") })
	return te
}

func (te *testEnv) set(k, v string) { te.vars[k] = v }

func (te *testEnv) options() Options {
	return Options{
		Audience:      testAudience,
		RefreshMargin: 60 * time.Second,
		Logger:        slog.New(slog.NewTextHandler(te.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		httpClient:    te.fg.srv.Client(),
		getenv:        func(k string) string { return te.vars[k] },
		now:           te.clk.Now,
		after:         te.clk.After,
	}
}

// logsAfterTokens builds a Cache on src, takes n tokens from it and returns what it logged:
// for checks that something is said once, however many tokens follow.
func (te *testEnv) logsAfterTokens(t *testing.T, src string, n int) string {
	t.Helper()
	o := te.options()
	o.Source = src
	c, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range n {
		if _, err := c.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return te.logs.String()
}

// assertNoSecrets fails if s contains any credential the fakes handed out or received.
func (te *testEnv) assertNoSecrets(s, where string) {
	te.t.Helper()
	for _, secret := range te.fg.allSecrets() {
		if strings.Contains(s, secret) {
			te.t.Errorf("%s contain a secret (%.12s...)", where, secret)
		}
	}
	if strings.Contains(s, "PRIVATE KEY") || strings.Contains(s, "eyJ") {
		te.t.Errorf("%s contain key or JWT material:\n%s", where, s)
	}
}

func (te *testEnv) writeFile(path string, data []byte) string {
	te.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		te.t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		te.t.Fatal(err)
	}
	return path
}

func mustJSON(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err)
	}
	return b
}

func (te *testEnv) serviceAccountKey() map[string]any {
	der, err := x509.MarshalPKCS8PrivateKey(testKey())
	if err != nil {
		te.t.Fatal(err)
	}
	return map[string]any{
		"type": "service_account", "project_id": "proj", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": testSAEmail, "client_id": "1234",
		"token_uri": te.fg.srv.URL + "/token",
	}
}

func (te *testEnv) authorizedUser() map[string]any {
	return map[string]any{
		"type": "authorized_user", "client_id": testUserClientID, "client_secret": testClientSecret,
		"refresh_token": testRefreshToken, "token_uri": te.fg.srv.URL + "/token",
	}
}

func (te *testEnv) impersonationURL(email, method string) string {
	return te.fg.srv.URL + "/v1/projects/-/serviceAccounts/" + email + ":" + method
}

// useADC writes an ADC file at GOOGLE_APPLICATION_CREDENTIALS.
func (te *testEnv) useADC(v map[string]any) string {
	p := te.writeFile(filepath.Join(te.t.TempDir(), "adc.json"), mustJSON(v))
	te.set("GOOGLE_APPLICATION_CREDENTIALS", p)
	return p
}

// useWellKnownADC writes gcloud's well-known ADC file under HOME.
func (te *testEnv) useWellKnownADC(v map[string]any) string {
	return te.writeFile(filepath.Join(te.home, ".config", "gcloud", "application_default_credentials.json"), mustJSON(v))
}

func (te *testEnv) useMetadata() { te.set("GCE_METADATA_HOST", te.fg.host()) }

// fakeGcloudScript is a gcloud stand-in: state lives in its config dir ($CLOUDSDK_CONFIG, else
// $HOME/.config/gcloud, as for gcloud): account, token, fail-stderr; every invocation's
// arguments are appended to args there.
const fakeGcloudScript = `#!/bin/sh
cfg="${CLOUDSDK_CONFIG:-$HOME/.config/gcloud}"
# Builtins only: PATH holds nothing but this script.
cat() { while IFS= read -r l || [ -n "$l" ]; do printf '%s\n' "$l"; done < "$1"; }
echo "$*" >> "$cfg/args"
case "$1 $2" in
"config get-value")
	if [ -s "$cfg/account" ]; then cat "$cfg/account"; else echo "(unset)" >&2; fi
	;;
"auth print-identity-token")
	if [ -f "$cfg/hang" ]; then while :; do :; done; fi
	if [ -s "$cfg/fail-stderr" ]; then cat "$cfg/fail-stderr" >&2; exit 1; fi
	if [ ! -s "$cfg/account" ]; then
		printf 'ERROR: (gcloud.auth.print-identity-token) You do not currently have an active account selected.\nPlease run:\n\n  $ gcloud auth login\n' >&2
		exit 1
	fi
	cat "$cfg/token"
	;;
*)
	echo "fake gcloud: unexpected $*" >&2; exit 2
	;;
esac
`

// fakeGcloud is a fake gcloud on PATH; its config dir is gcloud's default under the temp
// HOME, or CLOUDSDK_CONFIG when the test set it.
type fakeGcloud struct {
	te  *testEnv
	cfg string
}

func (te *testEnv) installGcloud(account string) *fakeGcloud {
	te.t.Helper()
	te.writeFile(filepath.Join(te.bin, "gcloud"), []byte(fakeGcloudScript))
	if err := os.Chmod(filepath.Join(te.bin, "gcloud"), 0o755); err != nil {
		te.t.Fatal(err)
	}
	g := &fakeGcloud{te: te, cfg: te.gcloudConfigDir()}
	te.writeFile(filepath.Join(g.cfg, "account"), []byte(account))
	return g
}

// setToken makes print-identity-token print a token for aud and email.
func (g *fakeGcloud) setToken(aud, email string) {
	tok := g.te.fg.idToken(aud, email, time.Hour, nil)
	g.te.writeFile(filepath.Join(g.cfg, "token"), []byte(tok+"\n"))
}

func (te *testEnv) gcloudConfigDir() string {
	if d := te.vars["CLOUDSDK_CONFIG"]; d != "" {
		return d
	}
	return filepath.Join(te.home, ".config", "gcloud")
}

func (g *fakeGcloud) failWith(stderr string) {
	g.te.writeFile(filepath.Join(g.cfg, "fail-stderr"), []byte(stderr))
}

func (g *fakeGcloud) args() []string {
	b, _ := os.ReadFile(filepath.Join(g.cfg, "args"))
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
