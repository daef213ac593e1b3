// Package upstream holds the core's MCP client sessions to upstream servers:
// one Conn per live session, carried on a transport plugin's stream, and one
// Upstream per configured server, which keeps a Conn for reuse, closes it
// after an idle time, starts it again after a crash and caches its tools.
//
// A Conn multiplexes: every request gets an id of the Conn's own, so calls
// from any number of goroutines (the frontend's routed requests, the
// proxy's listings, the broker's calls) are in flight together and each
// answer goes to its caller. Results are handed over as raw JSON, never
// decoded into types that could drop what the upstream sent. A Conn
// performs the handshake itself (handshake.go); mcp-go supplies only
// the protocol's types.
package upstream
