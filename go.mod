module github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy

go 1.26.0

require (
	cloud.google.com/go/auth v0.24.4 // indirect
	cloud.google.com/go/compute/metadata v0.10.0 // indirect
	github.com/alecthomas/kong v1.17.0
	github.com/googleapis/enterprise-certificate-proxy v0.3.24 // indirect
	github.com/googleapis/gax-go/v2 v2.27.0 // indirect
	github.com/tidwall/gjson v1.20.1 // indirect
	github.com/tidwall/match v1.1.1 // indirect
	github.com/tidwall/pretty v1.2.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261026165753-2ffab32bce7e // indirect
	google.golang.org/grpc v1.85.0 // indirect
)

require (
	github.com/google/go-cmp v0.7.0
	github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/cloudrun v0.0.0
	github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/mcpclientcfg v0.0.0
	github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy v0.0.0
	github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/tokens v0.0.0
)

require (
	github.com/pelletier/go-toml/v2 v2.4.3 // indirect
	github.com/tailscale/hujson v0.0.0-20260727124030-b80ff77dac4f // indirect
)

// The sibling modules live in this repository; these let the root module build without
// go.work (GOWORK=off), as packagers and CI's go vet do.
replace (
	github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/cloudrun => ./cloudrun
	github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/mcpclientcfg => ./mcpclientcfg
	github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy => ./proxy
	github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/tokens => ./tokens
)
