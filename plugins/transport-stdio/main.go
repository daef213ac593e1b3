// Command ica-plugin-transport-stdio is the bundled transport plugin that
// runs upstream MCP servers as child processes and speaks newline-delimited
// JSON-RPC with them over stdin and stdout.
package main

import (
	"os"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/proctree"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/transport-stdio/stdio"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if proctree.IsGuard(os.Args) {
		os.Exit(proctree.RunGuard(os.Args)) // an upstream's guard (macOS)
	}
	sdk.ServeTransport(stdio.New(version))
}
