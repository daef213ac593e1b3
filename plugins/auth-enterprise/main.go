// Command ica-plugin-auth-enterprise is the bundled auth plugin for the
// enterprise-managed login (the identity assertion authorization grant):
// the company's identity provider vouches for the user with an ID token
// the user already holds, and no browser is involved.
package main

import (
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/auth-enterprise/enterprise"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	sdk.ServeAuth(enterprise.New(version))
}
