// Package sdk is what an ica-mcp-proxy plugin imports, and all it imports.
//
// A plugin is a separate executable named ica-plugin-<kind>-<name> that the
// proxy finds in $ICA_HOME/plugins and starts on first use. Its main is one
// call:
//
//	func main() {
//		sdk.ServeAuth(myflow.New())      // an auth plugin: Auth
//		// or sdk.ServeTransport(mytransport.New()), a transport: Transport
//	}
//
// The plugin implements plain Go interfaces: Auth (Begin, Await, Refresh)
// for a login flow, Transport and Session for a transport. ServeAuth and
// ServeTransport hide the go-plugin handshake, the gRPC server, mutual TLS
// and the conversion to and from the wire types, which plugin authors
// never see.
//
// Anything beyond the minimum is an optional interface a plugin may also
// implement (AuthNeeds, ReadyDetailer); a plugin without it answers
// Unimplemented and the host uses the default. When a plugin starts, the
// host and the plugin agree on the highest plugin API version both speak
// (APIVersion, MinAPIVersion, Negotiate), so a plugin built against an
// older sdk keeps working with newer proxies.
//
// The same package holds the host side of the contract (AuthClient,
// TransportClient), which the proxy's core uses, so both ends are built
// from one definition. Package sdktest runs a plugin implementation
// in-process against that host side, for tests that need no binaries.
//
// docs/plugins.md is the guide; examples/auth-exec is a complete plugin
// built outside the proxy's module.
package sdk
