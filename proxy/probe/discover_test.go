package probe

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestCheckDiscover(t *testing.T) {
	tests := []struct {
		name          string
		status        int
		body          string
		wantFound     string
		wantStateless bool
	}{
		{name: "stateless 2026 server", status: 200,
			body:      `{"jsonrpc":"2.0","id":"debug-discover","result":{"supportedVersions":["2026-07-28","2025-11-25"],"capabilities":{}}}`,
			wantFound: "offers 2026-07-28, 2025-11-25; it is stateless", wantStateless: true},
		{name: "2025 server refusing the version", status: 400,
			body:      `{"jsonrpc":"2.0","id":null,"error":{"code":-32022,"message":"Unsupported protocol version","data":{"supported":["2025-11-25"]}}}`,
			wantFound: "does not speak 2026-07-28 (HTTP 400 Bad Request, JSON-RPC error -32022: Unsupported protocol version)"},
		{name: "server without the method", status: 404, body: `{"jsonrpc":"2.0","id":"debug-discover","error":{"code":-32601,"message":"Method not found"}}`,
			wantFound: "session-based (2025)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var gotHeaders http.Header
			var gotBody []byte
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotHeaders, gotBody = r.Header.Clone(), nil
				gotBody, _ = io.ReadAll(r.Body)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			p, err := New(Config{URL: srv.URL + "/mcp", ClientVersion: "test"})
			if err != nil {
				t.Fatal(err)
			}
			st := p.CheckDiscover(context.Background(), "tok")
			if st.Verdict != OK || !strings.Contains(st.Found, tc.wantFound) {
				t.Errorf("step %v %q, want OK containing %q", st.Verdict, st.Found, tc.wantFound)
			}
			if st.Details["stateless"] != tc.wantStateless {
				t.Errorf("stateless = %v, want %v", st.Details["stateless"], tc.wantStateless)
			}
			meta := gjson.GetBytes(gotBody, `params._meta.io\.modelcontextprotocol/protocolVersion`).String()
			if gotHeaders.Get("Mcp-Method") != "server/discover" || gotHeaders.Get("MCP-Protocol-Version") != meta || meta != "2026-07-28" {
				t.Errorf("request headers Mcp-Method %q, MCP-Protocol-Version %q, body version %q: want them to agree",
					gotHeaders.Get("Mcp-Method"), gotHeaders.Get("MCP-Protocol-Version"), meta)
			}
		})
	}
}
