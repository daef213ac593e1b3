// Package frontend is the MCP server the agent runtime talks to over stdio.
//
// It reads newline-delimited JSON-RPC (internal/lines) and answers every
// request itself: tools/list and the other lists are assembled from the
// upstreams' own bytes, and calls, reads and gets are routed to their
// upstream and answered with its bytes, never decoded into types;
// initialize, server/discover, ping and unknown methods are answered in
// handshake.go. Each side speaks its own protocol revision, and the
// frontend bridges them (revision.go, multiround.go, listen.go).
// Requests are handled concurrently; a client's notifications/cancelled
// cancels the matching request, which cancels it upstream. Upstream
// progress notifications are passed on verbatim.
//
// The frontend is the only writer of the proxy's stdout, one message per
// line, so stdout carries JSON-RPC only.
package frontend
