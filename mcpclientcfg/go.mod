module github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/mcpclientcfg

go 1.26.0

require (
	github.com/google/go-cmp v0.7.0
	github.com/pelletier/go-toml/v2 v2.4.3
	github.com/tailscale/hujson v0.0.0-20260727124030-b80ff77dac4f
)

require github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/cloudrun v0.0.0

// The sibling module lives in this repository; this lets the module build without go.work.
replace github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/cloudrun => ../cloudrun

require golang.org/x/sys v0.49.0
