module github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/e2e

go 1.26

require (
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	github.com/modelcontextprotocol/go-sdk v1.8.0 // indirect
)
