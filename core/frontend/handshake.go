package frontend

import (
	"encoding/json"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/proxy"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstreamfacts"
)

// The requests the proxy answers about itself: initialize and ping (the
// initialize revisions), server/discover (2026-07-28), and whatever method
// nothing else serves. They are written here, with mcp-go's types, rather
// than by mcp-go's server: that package brings a JSON Schema compiler
// whose start-up (1.7 MB and 7 ms of meta-schemas) every process of the
// one executable paid, core and plugins alike, for four answers. The
// answers are the same frames (testdata/golden/handshake.txtar in
// test/e2e pins them).

const serverName = "ica-mcp-proxy"

func (s *Server) implementation() mcp.Implementation {
	return mcp.Implementation{Name: serverName, Version: s.version}
}

// capabilities is what the proxy declares: tools and logging always;
// resources, prompts, completions and tasks when some upstream offers them.
func capabilities(o upstreamfacts.Offers) mcp.ServerCapabilities {
	c := mcp.ServerCapabilities{
		Tools: &struct {
			ListChanged bool `json:"listChanged,omitempty"`
		}{ListChanged: true},
		Logging: &struct{}{},
	}
	if o.Resources {
		c.Resources = &struct {
			Subscribe   bool `json:"subscribe,omitempty"`
			ListChanged bool `json:"listChanged,omitempty"`
		}{Subscribe: true, ListChanged: true}
	}
	if o.Prompts {
		c.Prompts = &struct {
			ListChanged bool `json:"listChanged,omitempty"`
		}{ListChanged: true}
	}
	if o.Completions {
		c.Completions = &struct{}{}
	}
	if o.Tasks {
		// Tool calls as tasks (2025-11-25), when an upstream runs them: the
		// proxy passes them through (tasks.go).
		c.Tasks = &mcp.TasksCapability{
			List:   &struct{}{},
			Cancel: &struct{}{},
			Requests: &mcp.TaskRequestsCapability{Tools: &struct {
				Call *struct{} `json:"call,omitempty"`
			}{Call: &struct{}{}}},
		}
	}
	if o.TasksExtension {
		// The same in 2026-07-28's form, the tasks extension.
		c.Extensions = map[string]any{proxy.TasksExtension: map[string]any{}}
	}
	return c
}

// jsonrpc2 reports whether msg says it is JSON-RPC 2.0; a request that
// does not is refused, as mcp-go's server refused it.
func jsonrpc2(msg []byte) bool { return gjson.GetBytes(msg, "jsonrpc").Str == mcp.JSONRPC_VERSION }

// paramsObject reports whether a request's params are absent or an object,
// the only forms the handshake requests take.
func paramsObject(params json.RawMessage) bool {
	return len(params) == 0 || gjson.ParseBytes(params).IsObject() || string(params) == "null"
}

// unparsable is the error for a request whose params have the wrong shape.
func (s *Server) unparsable(env envelope, why string) {
	s.writeError(env.ID, mcp.INVALID_REQUEST, fmt.Sprintf("unparsable %s request: %s", env.Method, why))
}

// answerInitialize answers a legacy initialize: the client's revision when
// the proxy speaks it, else the newest with a handshake (2025-03-26 when
// the client named none, as the spec says to assume).
func (s *Server) answerInitialize(env envelope, clientVersion string) {
	res := mcp.InitializeResult{
		ProtocolVersion: mcp.NegotiateLegacyVersion(clientVersion),
		ServerInfo:      s.implementation(),
		Capabilities:    capabilities(s.offered()),
		Instructions:    s.broker.Instructions(),
	}
	s.writeJSONResult(env.ID, res)
}

// answerDiscover answers server/discover, which only 2026-07-28 has: the
// revisions the proxy speaks, what it offers, and (as every modern result
// should) who it is. Without its revision's _meta the request is
// malformed (-32602, as the revision says), not an unknown method: the
// method exists, and the client learns what to add.
func (s *Server) answerDiscover(env envelope) {
	if !env.rev.modern {
		has := "has none"
		if env.rev.version != "" {
			has = fmt.Sprintf("names %q", env.rev.version)
		}
		s.writeError(env.ID, mcp.INVALID_PARAMS, fmt.Sprintf("%q needs _meta io.modelcontextprotocol/protocolVersion 2026-07-28 or later; the request %s", env.Method, has))
		return
	}
	res := mcp.DiscoverResult{
		SupportedVersions: mcp.ValidProtocolVersions,
		Capabilities:      capabilities(s.offered()),
		Instructions:      s.broker.Instructions(),
	}
	res.SetResultType(mcp.ResultTypeComplete)
	res.EnsureResultMeta().SetServerInfo(s.implementation())
	// A stateless client asks again whenever it likes; nothing here may be
	// kept.
	res.SetCacheHints(0, mcp.CacheScopePrivate)
	s.writeJSONResult(env.ID, res)
}

// answerOwn answers the requests no upstream sees: ping, and methods the
// proxy does not know.
func (s *Server) answerOwn(env envelope, msg []byte) {
	switch {
	case !jsonrpc2(msg):
		s.writeError(env.ID, mcp.INVALID_REQUEST, "Invalid JSON-RPC version")
	case env.Method == string(mcp.MethodServerDiscover):
		if !paramsObject(env.Params) {
			s.unparsable(env, "params is not an object")
			return
		}
		s.answerDiscover(env)
	case env.Method == string(mcp.MethodPing):
		if !paramsObject(env.Params) {
			s.unparsable(env, "params is not an object")
			return
		}
		s.writeResult(env.ID, json.RawMessage("{}"))
	default:
		s.writeError(env.ID, mcp.METHOD_NOT_FOUND, fmt.Sprintf("Method %s not found", env.Method))
	}
}

func (s *Server) writeJSONResult(id json.RawMessage, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		s.log.Error("could not encode an answer", "error", err)
		s.writeError(id, mcp.INTERNAL_ERROR, "could not encode the answer")
		return
	}
	s.writeResult(id, data)
}
