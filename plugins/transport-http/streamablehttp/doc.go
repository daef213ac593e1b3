// Package streamablehttp is the streamable HTTP transport of MCP
// (specification 2025-03-26 to 2025-11-25, and the stateless 2026-07-28
// revision): every message the core sends is one POST, answered with JSON
// or with an event stream; the server's own messages come on a GET stream
// when it offers one.
//
// The transport stays out of MCP semantics. It reads only what HTTP needs:
// the id of a request (to know which answer ends a POST's stream and to
// fail a request it could not deliver), the session id and protocol version
// the server gave at initialize, and the request's protocol metadata for the
// headers the 2026-07-28 revision requires.
//
// It is written on net/http rather than on mcp-go's client transport,
// which decodes messages into typed structs and hides the HTTP statuses
// the core must hear about (401 with its challenge, 404 on an expired
// session, 405 when the server speaks only the older SSE transport).
package streamablehttp
