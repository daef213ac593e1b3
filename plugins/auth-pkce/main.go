// Command ica-plugin-auth-pkce is the bundled auth plugin for the OAuth
// authorization code grant with PKCE: the user logs in in a browser, which
// comes back to a listener on this machine's loopback address.
package main

import (
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/auth-pkce/pkce"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	sdk.ServeAuth(pkce.New(version))
}
