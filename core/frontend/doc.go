// Package frontend is the MCP server the agent runtime talks to over stdio.
//
// It reads newline-delimited JSON-RPC and answers tools/list and
// tools/call itself, on a fast path that copies the upstream's bytes
// (tool definitions, results, errors) without decoding them into types;
// everything else (initialize, ping, logging, unknown methods) goes to
// mcp-go's server. Requests are handled concurrently; a client's
// notifications/cancelled cancels the matching request, which cancels it
// upstream. Upstream progress notifications are passed on verbatim.
//
// The frontend is the only writer of the proxy's stdout, one message per
// line, so stdout carries JSON-RPC only.
package frontend
