// Command ica-mcp-proxy is the MCP proxy an agent runtime registers once. With
// no arguments it serves MCP on stdio; see `ica-mcp-proxy help`. Run under a
// bundled plugin's name (ica-plugin-transport-stdio, …, as `plugins install`
// links it into $ICA_HOME/plugins), it is that plugin.
package main

import (
	"os"
	"path/filepath"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/cli"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/proctree"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/bundled"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if proctree.IsGuard(os.Args) {
		// The guard of a stdio upstream, started by the stdio plugin
		// where the system cannot tell a child its parent died (macOS).
		os.Exit(proctree.RunGuard(os.Args))
	}
	if bundled.Serve(filepath.Base(os.Args[0]), version) {
		return
	}
	os.Exit(cli.Main(version, os.Args[1:], bundled.Names()))
}
