package sdk

import (
	"github.com/hashicorp/go-plugin"
)

// APIVersion is the plugin API version this sdk speaks. The host refuses a
// plugin whose Info reports a version it does not speak.
const APIVersion = 1

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
	// APIVersion is the plugin API version the plugin speaks.
	APIVersion int
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
