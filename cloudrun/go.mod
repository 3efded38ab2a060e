module github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/cloudrun

go 1.26.0

require github.com/google/go-cmp v0.7.0
