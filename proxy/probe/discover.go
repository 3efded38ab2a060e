package probe

import (
	"context"
	"fmt"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy/internal/wire"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"
)

// statelessVersion is the first MCP revision without sessions.
const statelessVersion = "2026-07-28"

// CheckDiscover asks the server which protocol versions it offers with the stateless
// server/discover request of 2026-07-28 (headers derived as a client must). A server that
// answers speaks 2026-07-28 (or later), statelessly; one that refuses is a session-based 2025
// server, which clients reach by falling back to initialize: either is fine, the step only
// reports it.
func (p *Prober) CheckDiscover(ctx context.Context, token string) Step {
	st := Step{Name: "protocol", Checked: "protocol versions offered (server/discover, " + statelessVersion + ")"}
	body := []byte(`{"jsonrpc":"2.0","id":"debug-discover","method":"server/discover","params":{"_meta":{` +
		`"io.modelcontextprotocol/protocolVersion":"` + statelessVersion + `",` +
		`"io.modelcontextprotocol/clientInfo":{"name":"mcp-cloudrun-proxy-debug","version":"` + p.cfg.ClientVersion + `"},` +
		`"io.modelcontextprotocol/clientCapabilities":{}}}}`)
	ex := p.do(ctx, request{method: http.MethodPost, body: body, token: token, protocol: statelessVersion,
		extra: map[string]string{wire.HeaderMethod: "server/discover"}, onlyFirst: true})
	st.Details = ex.details()
	if ex.status == 0 {
		return netFailure(st, ex.err)
	}
	res := gjson.ParseBytes(ex.body)
	if versions := res.Get("result.supportedVersions"); ex.status/100 == 2 && versions.IsArray() {
		var list []string
		stateless := false
		versions.ForEach(func(_, v gjson.Result) bool {
			list = append(list, v.String())
			stateless = stateless || v.String() >= statelessVersion
			return true
		})
		st.Verdict = OK
		st.Found = fmt.Sprintf("the server offers %s", strings.Join(list, ", "))
		if stateless {
			st.Found += "; it is stateless (2026-07-28): no sessions, each request on its own, as Cloud Run suits"
		} else {
			st.Found += "; it is session-based (2025): clients reach it through initialize"
		}
		st.Details["supported_versions"] = list
		st.Details["stateless"] = stateless
		return st
	}
	st.Verdict = OK
	st.Details["stateless"] = false
	why := statusText(ex.status)
	if e := res.Get("error"); e.Exists() {
		why += fmt.Sprintf(", JSON-RPC error %d: %s", e.Get("code").Int(), e.Get("message").String())
		if sup := e.Get("data.supported"); sup.IsArray() {
			st.Details["supported_versions"] = sup.Value()
		}
	}
	st.Found = "the server does not speak " + statelessVersion + " (" + why + "): it is session-based (2025), and clients reach it through initialize"
	return st
}
