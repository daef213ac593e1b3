// Package broker implements the proxy.* tools, which are always exposed,
// whatever the guardrails cut: list_servers, list_tools, call,
// mirror_status, search_tools, and the logins' auth_start, auth_status, auth_refresh and
// auth_logout. Their answers are structuredContent plus the same JSON as
// text; their errors are isError results naming the cause.
package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/proxy"
)

// Prefix is the namespace of the broker tools.
const Prefix = "proxy"

// Short names of the broker tools.
const (
	ListServers  = "list_servers"
	ListTools    = "list_tools"
	Call         = "call"
	MirrorStatus = "mirror_status"
	AuthStart    = "auth_start"
	AuthStatus   = "auth_status"
	AuthRefresh  = "auth_refresh"
	AuthLogout   = "auth_logout"
	SearchTools  = "search_tools"
)

// Results of search_tools: by default, and at most.
const (
	searchDefault = 10
	searchMax     = 50
)

// Broker serves the proxy.* tools.
type Broker struct {
	p     *proxy.Proxy
	sep   string
	defs  []json.RawMessage
	short map[string]string // exposed name → short name
}

// New returns the broker for p; sep is the tool name separator.
func New(p *proxy.Proxy, sep string) *Broker {
	b := &Broker{p: p, sep: sep, short: map[string]string{}}
	for _, t := range definitions() {
		short := t.Name
		t.Name = Name(short, sep)
		b.short[t.Name] = short
		raw, err := json.Marshal(t)
		if err != nil {
			panic(fmt.Sprintf("broker tool %s: %v", short, err)) // static data
		}
		// The descriptions name other broker tools as the model sees them.
		raw = bytes.ReplaceAll(raw, []byte(Prefix+"."), []byte(Prefix+sep))
		b.defs = append(b.defs, raw)
	}
	return b
}

// Instructions are the proxy's instructions to the model, naming tools as
// the model sees them.
func (b *Broker) Instructions() string {
	n := func(short string) string { return Name(short, b.sep) }
	return fmt.Sprintf("ica-mcp-proxy mirrors the tools of the upstream MCP servers configured in .mcp.json and $ICA_HOME/mcp-servers.json as <server>%s<tool>. The %s* tools always work: %s, %s, %s (for tools that are not mirrored) and %s (what was left out, and why).",
		b.sep, Prefix+b.sep, n(ListServers), n(ListTools), n(Call), n(MirrorStatus))
}

// Name is the exposed name of a broker tool.
func Name(short, sep string) string { return Prefix + sep + short }

// Names lists the exposed names of the broker tools.
func Names(sep string) []string {
	var out []string
	for _, t := range definitions() {
		out = append(out, Name(t.Name, sep))
	}
	return out
}

// Definitions are the tools/list entries of the broker tools.
func (b *Broker) Definitions() []json.RawMessage { return b.defs }

// Is reports whether name is a broker tool.
func (b *Broker) Is(name string) bool { _, ok := b.short[name]; return ok }

func definitions() []mcp.Tool {
	readOnly := func(t *mcp.Tool) {
		t.Annotations.ReadOnlyHint = mcp.ToBoolPtr(true)
		t.Annotations.DestructiveHint = mcp.ToBoolPtr(false)
		t.Annotations.IdempotentHint = mcp.ToBoolPtr(true)
		t.Annotations.OpenWorldHint = mcp.ToBoolPtr(false)
	}
	return []mcp.Tool{
		mcp.NewTool(ListServers,
			mcp.WithDescription("List the upstream MCP servers the proxy knows, where each is defined, its state (ok, error with the message, not started) and how many of its tools are mirrored."),
			readOnly),
		mcp.NewTool(ListTools,
			mcp.WithDescription("List the tools of one upstream server, including those the mirroring guardrails left out; each shows the name it is mirrored as, if any."),
			mcp.WithString("server", mcp.Required(), mcp.Description("The server's name, as in proxy.list_servers.")),
			mcp.WithBoolean("include_schema", mcp.Description("Include each tool's input and output schema.")),
			readOnly),
		mcp.NewTool(SearchTools,
			mcp.WithDescription("Find upstream tools for a task: ranks the names and descriptions of every tool of every server, mirrored or not, and returns the best matches with their server, upstream name and input schema. Call one with proxy.call."),
			mcp.WithString("query", mcp.Required(), mcp.Description("What the tool should do, in words (\"create a GitHub issue\", \"read a file\").")),
			mcp.WithNumber("limit", mcp.Description("How many results, 1 to 50; default 10.")),
			readOnly),
		mcp.NewTool(Call,
			mcp.WithDescription("Call a tool of an upstream server by its upstream name, whether or not it is mirrored. The result is the upstream's, unchanged."),
			mcp.WithString("server", mcp.Required(), mcp.Description("The server's name, as in proxy.list_servers.")),
			mcp.WithString("tool", mcp.Required(), mcp.Description("The tool's name on that server, as in proxy.list_tools.")),
			mcp.WithObject("args", mcp.Description("The tool's arguments."))),
		mcp.NewTool(MirrorStatus,
			mcp.WithDescription("Report what the proxy mirrors: servers and tools in total and mirrored, which guardrail caps cut what and why, blocked servers, and each server's state."),
			readOnly),
		mcp.NewTool(AuthStart,
			mcp.WithDescription("Start logging in to a remote server that requires it (state login_required). Returns at once with what the user must do: a URL to open, or a URL and a code to enter; the login finishes in the background (see proxy.auth_status)."),
			mcp.WithString("server", mcp.Required(), mcp.Description("The server's name, as in proxy.list_servers.")),
			mcp.WithString("flow", mcp.Description("pkce (a browser on this machine), device_code (a code to enter on any device) or client_credentials; default: the server's setting, else pkce."))),
		mcp.NewTool(AuthStatus,
			mcp.WithDescription("Show the login of one remote server, or of all: pending (with what the user must do), ok, expired, insufficient_scope, refused (log in again, with the reason) or error; the kind of token (Bearer or DPoP) and why; the expiry and scopes. Never shows a token."),
			mcp.WithString("server", mcp.Description("The server's name; all remote servers when omitted.")),
			readOnly),
		mcp.NewTool(AuthRefresh,
			mcp.WithDescription("Renew a remote server's token now, with its refresh token (or the client's credentials)."),
			mcp.WithString("server", mcp.Required(), mcp.Description("The server's name."))),
		mcp.NewTool(AuthLogout,
			mcp.WithDescription("Log out of a remote server: revoke its token where the server allows, and delete it."),
			mcp.WithString("server", mcp.Required(), mcp.Description("The server's name."))),
	}
}

// Call runs the broker tool name with the raw arguments and returns the
// raw tools/call result. The error is never for the user: it is returned
// only when ctx ended (the caller cancelled).
func (b *Broker) Call(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
	var a struct {
		Server        string          `json:"server"`
		Tool          string          `json:"tool"`
		Args          json.RawMessage `json:"args"`
		IncludeSchema bool            `json:"include_schema"`
		Flow          string          `json:"flow"`
		Query         string          `json:"query"`
		Limit         float64         `json:"limit"`
	}
	if len(args) > 0 && string(args) != "null" {
		if err := json.Unmarshal(args, &a); err != nil {
			return ErrorResult(fmt.Sprintf("%s: arguments are not valid: %v", name, err)), nil
		}
	}
	switch b.short[name] {
	case ListServers:
		return StructuredResult(b.p.ListServers()), nil
	case MirrorStatus:
		return StructuredResult(b.p.MirrorStatus()), nil
	case SearchTools:
		if strings.TrimSpace(a.Query) == "" {
			return ErrorResult(name + `: "query" is required: say in words what the tool should do`), nil
		}
		limit := int(a.Limit)
		if limit <= 0 {
			limit = searchDefault
		}
		return StructuredResult(b.p.SearchTools(a.Query, min(limit, searchMax))), nil
	case ListTools:
		if a.Server == "" {
			return ErrorResult(name + `: "server" is required`), nil
		}
		rep, err := b.p.ListTools(ctx, a.Server, a.IncludeSchema)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return ErrorResult(err.Error()), nil
		}
		return StructuredResult(rep), nil
	case Call:
		return b.call(ctx, name, a.Server, a.Tool, a.Args)
	case AuthStatus:
		return b.result(ctx, name)(b.p.AuthStatus(ctx, a.Server))
	case AuthStart, AuthRefresh, AuthLogout:
		if a.Server == "" {
			return ErrorResult(name + `: "server" is required`), nil
		}
		switch b.short[name] {
		case AuthStart:
			return b.result(ctx, name)(b.p.AuthStart(ctx, a.Server, a.Flow))
		case AuthRefresh:
			return b.result(ctx, name)(b.p.AuthRefresh(ctx, a.Server))
		default:
			had, err := b.p.AuthLogout(ctx, a.Server)
			return b.result(ctx, name)(map[string]any{"server": a.Server, "logged_out": had}, err)
		}
	}
	return ErrorResult("unknown broker tool " + name), nil
}

func (b *Broker) call(ctx context.Context, name, server, tool string, args json.RawMessage) (json.RawMessage, error) {
	if server == "" || tool == "" {
		return ErrorResult(name + `: "server" and "tool" are required`), nil
	}
	args, err := normaliseArgs(args)
	if err != nil {
		return ErrorResult(fmt.Sprintf("%s: %v", name, err)), nil
	}
	if err := b.p.CheckCallable(ctx, server, tool); err != nil {
		return ErrorResult(err.Error()), nil
	}
	params, _ := json.Marshal(struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments,omitempty"`
	}{tool, args})
	r, err := b.p.CallTool(ctx, server, params)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return nil, ctx.Err()
		}
		return ErrorResult(err.Error()), nil
	}
	if r.Error != nil {
		var e struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(r.Error, &e)
		return ErrorResult(fmt.Sprintf("server %q refused %s: %s (code %d)", server, tool, e.Message, e.Code)), nil
	}
	return r.Result, nil
}

// normaliseArgs accepts an object, nothing, or an object encoded as a JSON
// string (some models send that).
func normaliseArgs(args json.RawMessage) (json.RawMessage, error) {
	s := strings.TrimSpace(string(args))
	switch {
	case s == "" || s == "null":
		return nil, nil
	case s[0] == '{':
		return args, nil
	case s[0] == '"':
		var inner string
		if err := json.Unmarshal(args, &inner); err == nil && strings.HasPrefix(strings.TrimSpace(inner), "{") && json.Valid([]byte(inner)) {
			return json.RawMessage(inner), nil
		}
	}
	return nil, errors.New(`"args" must be an object`)
}

// result turns an operation's outcome into a tool result: its value as
// structured content, or its error as an isError result (unless the
// caller cancelled).
func (b *Broker) result(ctx context.Context, name string) func(v any, err error) (json.RawMessage, error) {
	return func(v any, err error) (json.RawMessage, error) {
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return ErrorResult(name + ": " + err.Error()), nil
		}
		return StructuredResult(v), nil
	}
}

// StructuredResult is a tool result carrying v as structuredContent and as
// JSON text.
func StructuredResult(v any) json.RawMessage {
	data, err := json.Marshal(v)
	if err != nil {
		return ErrorResult("could not encode the result: " + err.Error())
	}
	text, _ := json.Marshal(string(data))
	out := make([]byte, 0, 2*len(data)+64)
	out = append(out, `{"content":[{"type":"text","text":`...)
	out = append(out, text...)
	out = append(out, `}],"structuredContent":`...)
	out = append(out, data...)
	return append(out, '}')
}

// ErrorResult is an isError tool result with msg as its text.
func ErrorResult(msg string) json.RawMessage {
	text, _ := json.Marshal(msg)
	out := append([]byte(`{"content":[{"type":"text","text":`), text...)
	return append(out, `}],"isError":true}`...)
}
