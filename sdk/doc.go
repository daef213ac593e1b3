// Package sdk is what an ica-mcp-proxy plugin imports, and all it imports.
//
// A plugin is a separate executable named ica-plugin-<kind>-<name> that the
// proxy finds in $ICA_HOME/plugins and starts on first use. Its main is a few
// lines:
//
//	func main() {
//		sdk.ServeTransport(mytransport.New())
//	}
//
// The plugin implements plain Go interfaces (Transport and Session for a
// transport plugin); ServeTransport hides the go-plugin handshake, the gRPC
// server, mutual TLS and the conversion to and from the wire types, which
// plugin authors never see.
//
// The same package holds the host side of the contract (PluginSet,
// TransportClient), which the proxy's core uses, so both ends are built from
// one definition. Package sdktest runs a plugin implementation in-process
// against that host side, for tests that need no binaries.
//
// Start with Transport in transport.go and ServeTransport in serve.go.
package sdk
