module github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/cloudrun

go 1.26.0
