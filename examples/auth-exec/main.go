// Command ica-plugin-auth-exec is an ica-mcp-proxy auth plugin that gets
// its bearer token from a command, the way `gcloud auth
// print-access-token` or `az account get-access-token` print one. It is
// also the example of a plugin written outside the proxy's repository: it
// imports only the sdk. See docs/plugins.md.
//
// A server entry uses it with:
//
//	"oauth": {"flow": "exec", "options": {"command": ["gcloud", "auth", "print-access-token"]}}
package main

import "github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	sdk.ServeAuth(&Exec{Version: version})
}
