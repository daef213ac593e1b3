// Command ica-plugin-transport-sse is the bundled transport plugin for
// remote MCP servers that speak the older HTTP+SSE transport (protocol
// 2024-11-05).
package main

import (
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/transport-sse/sse"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	sdk.ServeTransport(sse.New(version))
}
