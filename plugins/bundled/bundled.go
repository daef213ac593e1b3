// Package bundled makes the proxy's executable a multi-call binary (as
// busybox is): run under the file name of a bundled plugin
// (ica-plugin-transport-stdio, …), it is that plugin. `plugins install`
// puts those names into $ICA_HOME/plugins as hard links to the proxy's
// executable, so `go install` of the proxy is the whole install and the
// plugin processes share the executable's pages with the core.
//
// The plugins are found, checked and started exactly as third-party ones
// are; only the executable is shared. The standalone mains in plugins/
// still build, as examples of a plugin's main.
package bundled

import (
	"maps"
	"slices"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/auth-client-credentials/clientcreds"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/auth-device/device"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/auth-enterprise/enterprise"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/auth-pkce/pkce"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/transport-http/streamablehttp"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/transport-sse/sse"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/transport-stdio/stdio"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// plugins maps each bundled plugin's file name to its serve function.
var plugins = map[string]func(version string){
	"ica-plugin-transport-stdio":         func(v string) { sdk.ServeTransport(stdio.New(v)) },
	"ica-plugin-transport-http":          func(v string) { sdk.ServeTransport(streamablehttp.New(v)) },
	"ica-plugin-transport-sse":           func(v string) { sdk.ServeTransport(sse.New(v)) },
	"ica-plugin-auth-pkce":               func(v string) { sdk.ServeAuth(pkce.New(v)) },
	"ica-plugin-auth-device":             func(v string) { sdk.ServeAuth(device.New(v)) },
	"ica-plugin-auth-client-credentials": func(v string) { sdk.ServeAuth(clientcreds.New(v)) },
	"ica-plugin-auth-enterprise":         func(v string) { sdk.ServeAuth(enterprise.New(v)) },
}

// Names lists the bundled plugins' file names on this system (with
// sdk.ExeSuffix), sorted.
func Names() []string {
	names := slices.Sorted(maps.Keys(plugins))
	for i := range names {
		names[i] += sdk.ExeSuffix
	}
	return names
}

// Serve serves the bundled plugin named name (the executable's base name,
// with or without ".exe") and reports true once it has ended; it reports
// false at once when name is not a bundled plugin.
func Serve(name, version string) bool {
	serve, ok := plugins[sdk.TrimExe(name)]
	if !ok {
		return false
	}
	serve(version)
	return true
}
