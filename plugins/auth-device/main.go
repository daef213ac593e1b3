// Command ica-plugin-auth-device is the bundled auth plugin for the OAuth
// device authorization grant (RFC 8628): the user opens a URL on any
// device and types a code, which suits headless machines.
package main

import (
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/auth-device/device"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	sdk.ServeAuth(device.New(version))
}
