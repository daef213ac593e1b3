// Command ica-plugin-transport-http is the bundled transport plugin for
// remote MCP servers speaking streamable HTTP.
package main

import (
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/transport-http/streamablehttp"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	sdk.ServeTransport(streamablehttp.New(version))
}
