// Command ica-plugin-auth-client-credentials is the bundled auth plugin
// for the OAuth client credentials grant (machine to machine): no user is
// involved, so a token is minted at once and minted again when it expires.
package main

import (
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/auth-client-credentials/clientcreds"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	sdk.ServeAuth(clientcreds.New(version))
}
