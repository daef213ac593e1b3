// Command ica-mcp-proxy is the MCP proxy an agent runtime registers once. With
// no arguments it serves MCP on stdio; see `ica-mcp-proxy help`.
package main

import (
	"os"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(cli.Main(version, os.Args[1:]))
}
