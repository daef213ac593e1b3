// Package oauthmeta finds how to log in to an MCP server, as the MCP
// authorization specification says: from the server's 401 challenge to
// its protected resource metadata (RFC 9728), from there to the
// authorization server's metadata (RFC 8414, then OpenID discovery), with
// the checks that keep a hostile server from steering the proxy: the
// issuer must match, PKCE must offer S256, endpoints must be https (plain
// http only on loopback), metadata is never fetched from private or
// link-local addresses unless the MCP server itself is there, and no
// redirect leaves the origin asked.
package oauthmeta
