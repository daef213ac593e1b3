package frontend_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/coretest"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/scripted"
)

// echoScript is a legacy server with one tool, echo, which answers with a
// fixed text.
func echoScript() scripted.Script {
	return scripted.Script{
		Revision: scripted.Legacy,
		Tools:    []json.RawMessage{json.RawMessage(`{"name":"echo","inputSchema":{"type":"object"}}`)},
		Calls:    map[string]scripted.Call{"echo": {Steps: []scripted.Step{{Result: json.RawMessage(`{"content":[{"type":"text","text":"ok"}]}`)}}}},
	}
}

const initialize = `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

// TestOverlongRequests: a client message over the 64 MiB bound is dropped
// whole, wherever its id is: the request is refused under its own id, and
// no part of it reaches the upstream (once, a cut line went up as a
// shorter request on altered data). A long message under the bound goes
// up intact, and the session goes on.
func TestOverlongRequests(t *testing.T) {
	c := coretest.New(t, coretest.Options{Scripts: map[string]scripted.Script{"up": echoScript()}})
	cl := c.Serve(t)
	cl.Call("0", "initialize", gjson.Get(initialize, "params").Raw)
	cl.Send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)

	over := strings.Repeat("a", 65<<20)
	for _, tc := range []struct{ id, msg string }{
		{`7`, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"up.echo","arguments":{"x":"` + over + `"}}}`},
		// The id last, as the TypeScript SDK writes it.
		{`"tail"`, `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"up.echo","arguments":{"x":"` + over + `"}},"id":"tail"}`},
	} {
		cl.Send(tc.msg)
		got := cl.Wait(tc.id)
		if code := gjson.GetBytes(got, "error.code").Int(); code != -32600 {
			t.Errorf("id %s: %s", tc.id, got)
		}
		if msg := gjson.GetBytes(got, "error.message").Str; !strings.Contains(msg, "65.0 MiB, over the 64 MiB") {
			t.Errorf("id %s: the error does not say why: %q", tc.id, msg)
		}
	}

	long := strings.Repeat("b", 5<<20)
	res := cl.Call("8", "tools/call", `{"name":"up.echo","arguments":{"x":"`+long+`"}}`)
	if gjson.GetBytes(res, "result.content.0.text").Str != "ok" {
		t.Fatalf("the call after the overlong ones: %.300s", res)
	}
	var calls []string
	for _, m := range c.Transport.Received("up") {
		if gjson.GetBytes(m, "method").Str == "tools/call" {
			calls = append(calls, string(m))
		}
	}
	if len(calls) != 1 {
		t.Fatalf("the upstream got %d calls, want the one under the bound", len(calls))
	}
	if got := gjson.Get(calls[0], "params.arguments.x").Str; got != long {
		t.Errorf("the long argument arrived with %d bytes, want %d", len(got), len(long))
	}
}

// TestOverlongShapes: an overlong request whose method lies past the kept
// head is still refused under its id; an overlong notification gets no
// answer (JSON-RPC answers none), and the session goes on.
func TestOverlongShapes(t *testing.T) {
	c := coretest.New(t, coretest.Options{Scripts: map[string]scripted.Script{"up": echoScript()}})
	cl := c.Serve(t)
	cl.Initialize(`{}`)
	over := strings.Repeat("a", 65<<20)
	cl.Send(`{"jsonrpc":"2.0","params":{"name":"up.echo","arguments":{"x":"` + over + `"}},"method":"tools/call","id":"late"}`)
	if got := cl.Wait(`"late"`); gjson.GetBytes(got, "error.code").Int() != -32600 {
		t.Fatalf("method past the head: %s", got)
	}
	n := len(cl.Messages())
	cl.Send(`{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"` + over + `"}}`)
	if r := cl.CallTool("up.echo", map[string]any{}); r.Text() != "ok" {
		t.Fatalf("the call after: %+v", r)
	}
	for _, m := range cl.Messages()[n:] {
		if gjson.GetBytes(m, "error").Exists() {
			t.Errorf("an overlong notification was answered: %s", m)
		}
	}
}
