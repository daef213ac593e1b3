package frontend

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/broker"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/mirror"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/jsonrpc"
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
	s.answerBuilt(env, buf)
}

// toolsCall routes a call to a broker tool or, by the mirror table, to the
// upstream, passing the result back untouched.
func (s *Server) toolsCall(ctx context.Context, env envelope, c *call) {
	nameField := gjson.GetBytes(env.Params, "name")
	name := nameField.Str
	if nameField.Type != gjson.String || name == "" {
		s.writeError(env.ID, mcp.INVALID_PARAMS, "tools/call needs params with a tool name")
		return
	}

	if s.broker.Is(name) {
		var args json.RawMessage
		if a := gjson.GetBytes(env.Params, "arguments"); a.Exists() {
			args = json.RawMessage(a.Raw)
		}
		result, err := s.broker.Call(ctx, name, args)
		if err != nil {
			s.answerFailure(env, c, err)
			return
		}
		s.answer(env, result)
		return
	}

	tool, ok := s.p.Lookup(ctx, name)
	if !ok {
		s.writeError(env.ID, mcp.INVALID_PARAMS, "unknown tool "+name)
		return
	}
	done := make(chan struct{})
	c.setCancel(s.forward(env, nameField, tool, c, nil, func() { close(done) }))
	<-done
}

// forwardNow forwards a call to a mirrored tool from the reader's goroutine
// when the tool is known now, which is the per-call path: nothing waits for
// the answer, which is written from the upstream session's read loop. It
// reports false when the call needs the goroutine path (a broker tool, a
// tool not known yet, a malformed call).
func (s *Server) forwardNow(env envelope) bool {
	nameField := gjson.GetBytes(env.Params, "name")
	if nameField.Type != gjson.String || s.broker.Is(nameField.Str) {
		return false
	}
	tool, ok := s.p.Table().Lookup(nameField.Str)
	if !ok {
		return false
	}
	c := s.begin(env.ID)
	c.setCancel(s.forward(env, nameField, tool, c, &s.batch, func() { s.end(c) }))
	return true
}

// forward sends the call upstream with the upstream's tool name spliced in
// where the client's was; everything else (arguments, _meta with the
// progress token) goes through byte for byte, and so does the answer. It
// returns how to cancel the call; ended runs after the answer is written.
func (s *Server) forward(env envelope, nameField gjson.Result, tool mirror.Tool, c *call, batch *upstream.Batch, ended func()) func(error) {
	if tool.ChecksArgs() {
		if err := tool.CheckArgs(json.RawMessage(gjson.GetBytes(env.Params, "arguments").Raw)); err != nil {
			// The schema the client saw was rewritten for it; the
			// upstream's own still decides.
			s.answer(env, broker.ErrorResult(tool.Exposed+": "+err.Error()))
			ended()
			return func(error) {}
		}
	}
	params := replaceRaw(env.Params, nameField, tool.Name)
	release := s.logs.want(env, tool.Server)
	return s.exchange(target{env: env, c: c, server: tool.Server, ended: func() { release(); ended() }, batch: batch}, tool.Server, env.Method, params, s.writeCall)
}

// writeCall answers a tools/call: a failure of the proxy's is an isError
// result naming the cause. A call run as a task tells the proxy which
// server owns the task.
func (s *Server) writeCall(t target, r upstream.Reply, err error) {
	if err == nil && r.Error == nil {
		s.tasks.noteCall(t, r)
	}
	switch {
	case err != nil:
		s.answerFailure(t.env, t.c, err)
	case r.Error != nil:
		s.writeRawError(t.env.ID, r.Error)
	default:
		s.answer(t.env, r.Result)
	}
	t.ended()
}

// replaceRaw returns params with the value v (found in params) replaced by
// the JSON string s.
func replaceRaw(params []byte, v gjson.Result, s string) []byte {
	out := make([]byte, 0, len(params)+len(s)+2)
	out = append(out, params[:v.Index]...)
	out = jsonrpc.AppendString(out, s)
	return append(out, params[v.Index+len(v.Raw):]...)
}

// answerFailure answers a call the proxy could not complete: nothing when
// the client cancelled it (as the spec asks), an isError result naming the
// cause otherwise.
func (s *Server) answerFailure(env envelope, c *call, err error) {
	if c.cancelled.Load() && errors.Is(err, context.Canceled) {
		return
	}
	s.answer(env, broker.ErrorResult(err.Error()))
}
