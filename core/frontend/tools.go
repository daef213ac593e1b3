package frontend

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/broker"
)

// toolsList answers with the broker tools and the mirrored tools, each
// mirrored definition being the upstream's own bytes with the name
// replaced. Everything fits one page.
func (s *Server) toolsList(ctx context.Context, env envelope) {
	t := s.p.ToolsForList(ctx)
	s.served.Store(t)
	defs := s.broker.Definitions()
	size := 16
	for _, d := range defs {
		size += len(d) + 1
	}
	for _, x := range t.Tools {
		size += len(x.Definition) + 1
	}
	buf := make([]byte, 0, size)
	buf = append(buf, `{"tools":[`...)
	first := true
	add := func(d []byte) {
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(buf, d...)
	}
	for _, d := range defs {
		add(d)
	}
	for _, x := range t.Tools {
		add(x.Definition)
	}
	buf = append(buf, "]}"...)
	s.writeResult(env.ID, buf)
}

// toolsCall routes a call to a broker tool or, by the mirror table, to the
// upstream, passing the result back untouched.
func (s *Server) toolsCall(ctx context.Context, env envelope, c *call) {
	var params map[string]json.RawMessage
	if err := json.Unmarshal(env.Params, &params); err != nil || params == nil {
		s.writeError(env.ID, mcp.INVALID_PARAMS, "tools/call needs params with a name")
		return
	}
	var name string
	if err := json.Unmarshal(params["name"], &name); err != nil || name == "" {
		s.writeError(env.ID, mcp.INVALID_PARAMS, "tools/call needs a tool name")
		return
	}

	if s.broker.Is(name) {
		result, err := s.broker.Call(ctx, name, params["arguments"])
		if err != nil {
			s.answerFailure(env.ID, c, err)
			return
		}
		s.writeResult(env.ID, result)
		return
	}

	tool, ok := s.p.Lookup(ctx, name)
	if !ok {
		s.writeError(env.ID, mcp.INVALID_PARAMS, "unknown tool "+name)
		return
	}
	// Same params, upstream's name: arguments and _meta (the progress
	// token) go through as sent.
	params["name"], _ = json.Marshal(tool.Name)
	upParams, err := json.Marshal(params)
	if err != nil {
		s.writeError(env.ID, mcp.INTERNAL_ERROR, err.Error())
		return
	}
	r, err := s.p.CallTool(ctx, tool.Server, upParams)
	switch {
	case err != nil:
		s.answerFailure(env.ID, c, err)
	case r.Error != nil:
		s.writeRawError(env.ID, r.Error)
	default:
		s.writeResult(env.ID, r.Result)
	}
}

// answerFailure answers a call the proxy could not complete: nothing when
// the client cancelled it (as the spec asks), an isError result naming the
// cause otherwise.
func (s *Server) answerFailure(id json.RawMessage, c *call, err error) {
	if c.cancelled.Load() && errors.Is(err, context.Canceled) {
		return
	}
	s.writeResult(id, broker.ErrorResult(err.Error()))
}
