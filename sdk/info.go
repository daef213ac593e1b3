package sdk

import (
	"fmt"
	"slices"

	"github.com/hashicorp/go-plugin"
)

// APIVersion is the newest plugin API version this sdk speaks, and
// MinAPIVersion the oldest. When a plugin starts, the host and the plugin
// agree on the highest version both speak (see Negotiate), so a plugin
// built against an older sdk keeps working with a newer proxy for as long
// as the proxy still speaks that version, and one that shares no version
// with the proxy is refused with a message saying which side to upgrade.
//
// The versions are those of the ApiVersion enum in
// proto/ica/plugin/v1/plugin.proto; a test keeps the two in step.
const (
	APIVersion    = 1
	MinAPIVersion = 1
)

// APIVersions lists the plugin API versions this sdk speaks, oldest first.
func APIVersions() []int {
	out := make([]int, 0, APIVersion-MinAPIVersion+1)
	for v := MinAPIVersion; v <= APIVersion; v++ {
		out = append(out, v)
	}
	return out
}

// Negotiate picks the highest API version in both lists. The error says
// which side is too old when they share none.
func Negotiate(host, plugin []int) (int, error) {
	best := 0
	for _, h := range host {
		if h > best && slices.Contains(plugin, h) {
			best = h
		}
	}
	if best > 0 {
		return best, nil
	}
	if len(host) == 0 || len(plugin) == 0 {
		return 0, fmt.Errorf("no plugin API version offered (host %v, plugin %v)", host, plugin)
	}
	if slices.Max(plugin) < slices.Min(host) {
		return 0, fmt.Errorf("the plugin speaks plugin API %s, older than this proxy's %s: rebuild the plugin against a newer sdk",
			versionRange(plugin), versionRange(host))
	}
	return 0, fmt.Errorf("the plugin speaks plugin API %s, newer than this proxy's %s: upgrade ica-mcp-proxy",
		versionRange(plugin), versionRange(host))
}

func versionRange(vs []int) string {
	lo, hi := slices.Min(vs), slices.Max(vs)
	if lo == hi {
		return fmt.Sprintf("version %d", lo)
	}
	return fmt.Sprintf("versions %d to %d", lo, hi)
}

// Kind is the family of calls a plugin serves; it is also the <kind> part of
// the plugin's file name.
type Kind string

const (
	// KindTransport plugins move JSON-RPC messages to upstream servers.
	KindTransport Kind = "transport"
	// KindAuth plugins run login flows.
	KindAuth Kind = "auth"
)

// Info describes a plugin. A plugin fills Names, Version and Description;
// the sdk fills Kind and APIVersion.
type Info struct {
	// Kind is set by the Serve function used.
	Kind Kind
	// Names are the transport or flow names the plugin provides, such as
	// "stdio". The first is the plugin's primary name.
	Names []string
	// Version is the plugin's own version, free-form.
	Version string
	// APIVersion is the plugin API version agreed with the host.
	APIVersion int
	// APIVersions are all the versions the plugin speaks.
	APIVersions []int
	// Description is one line shown by `ica-mcp-proxy plugins list`.
	Description string
}

// Handshake is the go-plugin handshake every ica-mcp-proxy plugin and host
// share. The cookie is not a secret: it keeps a plugin binary started by
// hand from waiting for a host that will never come.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "ICA_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "6f1d3b2e-ica-mcp-proxy-plugin-9c4a",
}

// Names under which the sdk registers its services in a go-plugin PluginSet.
const (
	pluginNameInfo      = "info"
	pluginNameTransport = "transport"
	pluginNameAuth      = "auth"
)

// MaxMessageBytes bounds one JSON-RPC message on the plugin connection, in
// both directions. gRPC's default of 4 MiB is too small for tool results that
// carry images or files.
const MaxMessageBytes = 64 << 20

// windowBytes is the fixed HTTP/2 flow-control window of plugin
// connections. Setting it turns off gRPC's bandwidth-delay probing, which
// costs a ping frame per burst of small messages on a connection that never
// leaves the machine.
const windowBytes = 4 << 20
