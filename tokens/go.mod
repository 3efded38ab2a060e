module github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/tokens

go 1.26.0

require (
	cloud.google.com/go/auth v0.24.4
	cloud.google.com/go/compute/metadata v0.10.0
	github.com/google/go-cmp v0.7.0
	github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/cloudrun v0.0.0
)

// The sibling module lives in this repository; this lets the module build without go.work.
replace github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/cloudrun => ../cloudrun

require (
	github.com/googleapis/enterprise-certificate-proxy v0.3.24 // indirect
	github.com/googleapis/gax-go/v2 v2.27.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	google.golang.org/api v0.311.0 // indirect
)
