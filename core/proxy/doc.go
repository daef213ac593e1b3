// Package proxy ties the core together: it loads the configuration, keeps
// one upstream.Upstream per server, lists their tools concurrently and
// independently, builds the mirror table within the guardrails, reloads
// when a config file changes, and answers the questions the broker tools
// and the CLI ask (servers, tools, status, calls).
//
// The frontend (the stdio MCP server) and the CLI's client commands use
// the same Proxy, so both see exactly the same behaviour.
package proxy
