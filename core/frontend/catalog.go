package frontend

import (
	"context"
	"encoding/json"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/mirror"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
)

// catalogMethods are the list methods answered from the mirror's catalogs.
var catalogMethods = map[string]mirror.CatalogKind{
	string(mcp.MethodResourcesList):          mirror.KindResources,
	string(mcp.MethodResourcesTemplatesList): mirror.KindResourceTemplates,
	string(mcp.MethodPromptsList):            mirror.KindPrompts,
}

// catalogList answers a list method with every upstream's items, named by
// server; everything fits one page.
func (s *Server) catalogList(ctx context.Context, env envelope, kind mirror.CatalogKind) {
	c := s.p.Catalog(ctx, kind)
	buf := make([]byte, 0, 64)
	buf = append(buf, `{"`...)
	buf = append(buf, kind...)
	buf = append(buf, `":[`...)
	for i, it := range c.Items {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, it.Definition...)
	}
	buf = append(buf, "]}"...)
	s.answerBuilt(env, buf)
}

// routed forwards a request about one resource or prompt to the server
// that offers it. Prompts are named the way the client saw them, so the
// name is put back to the upstream's; a resource keeps its URI.
func (s *Server) routed(ctx context.Context, env envelope, c *call) {
	server, params, err := s.route(ctx, env)
	if err != nil {
		s.writeError(env.ID, mcp.INVALID_PARAMS, err.Error())
		return
	}
	done := make(chan struct{})
	release := s.logs.want(env, server)
	t := target{env: env, c: c, ended: func() { release(); close(done) }}
	if multiRoundMethods[env.Method] {
		c.setCancel(s.exchange(t, server, env.Method, params, s.writeRouted))
	} else {
		c.setCancel(s.p.StartRequest(server, upstream.Call{Method: env.Method, Params: params, Done: func(r upstream.Reply, err error) { s.writeRouted(t, r, err) }}))
	}
	<-done
}

// writeRouted answers a request routed to one server.
func (s *Server) writeRouted(t target, r upstream.Reply, err error) {
	switch {
	case err != nil && t.c.cancelled.Load():
	case err != nil:
		s.writeError(t.env.ID, mcp.INTERNAL_ERROR, err.Error())
	case r.Error != nil:
		s.writeRawError(t.env.ID, modernError(t.env, r.Error))
	default:
		s.answer(t.env, r.Result)
	}
	t.ended()
}

type routeError string

func (e routeError) Error() string { return string(e) }

// route finds the server for a routed request and the params to send it.
func (s *Server) route(ctx context.Context, env envelope) (string, json.RawMessage, error) {
	switch env.Method {
	case string(mcp.MethodPromptsGet):
		return s.routePrompt(ctx, env.Params, "name")
	case string(mcp.MethodCompletionComplete):
		ref := gjson.GetBytes(env.Params, "ref")
		switch ref.Get("type").Str {
		case "ref/prompt":
			return s.routePrompt(ctx, env.Params, "ref.name")
		case "ref/resource":
			return s.routeResource(ctx, env.Params, "ref.uri")
		}
		return "", nil, routeError("completion/complete needs a ref of type ref/prompt or ref/resource")
	default: // resources/read, resources/subscribe, resources/unsubscribe
		return s.routeResource(ctx, env.Params, "uri")
	}
}

func (s *Server) routePrompt(ctx context.Context, params json.RawMessage, path string) (string, json.RawMessage, error) {
	field := gjson.GetBytes(params, path)
	if field.Type != gjson.String {
		return "", nil, routeError("params need a prompt name at " + path)
	}
	it, ok := s.p.PromptByName(ctx, field.Str)
	if !ok {
		return "", nil, routeError("unknown prompt " + field.Str)
	}
	return it.Server, replaceRaw(params, field, it.Name), nil
}

func (s *Server) routeResource(ctx context.Context, params json.RawMessage, path string) (string, json.RawMessage, error) {
	field := gjson.GetBytes(params, path)
	if field.Type != gjson.String {
		return "", nil, routeError("params need a resource uri at " + path)
	}
	server, err := s.p.ResourceServer(ctx, field.Str)
	if err != nil {
		return "", nil, err
	}
	return server, params, nil
}
