// Package httpfront serves the proxy as a streamable HTTP MCP server, for
// runtimes and tools configured with a URL rather than a command.
//
// It is a transport in front of the same frontend the stdio path runs:
// each client's messages go to a frontend.Server as lines, and what the
// frontend writes comes back as JSON or server-sent events.
//
//   - A legacy client (initialize, then Mcp-Session-Id) gets a frontend
//     of its own, with its own proxy core (NewSession), as a stdio client
//     gets a process of its own.
//   - 2026-07-28 requests need no session: they share one frontend, under
//     ids (and progress tokens) the front makes unique and gives back.
//
// It listens on loopback only, requires the bearer token kept in
// $ICA_HOME, and refuses Host and Origin headers that are not loopback
// (DNS rebinding: a web page whose name resolves to 127.0.0.1).
//
// Written on net/http rather than mcp-go's server: the front has to pass
// the frontend's bytes through (bridging, golden frames), which mcp-go's
// typed server would decode and rebuild, and mcp-go's server package is
// kept out of the binary for its start-up cost.
package httpfront
