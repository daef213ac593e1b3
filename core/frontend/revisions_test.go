package frontend_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/coretest"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/scripted"
)

// The two client revisions side by side: a 2026-07-28 client's
// subscription to list changes, and stateless requests beside a legacy
// session on one connection.

// modernMeta is the _meta of a 2026-07-28 request with no capabilities.
const modernMeta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",` +
	`"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"test","version":"1"}}`

func method(name string) func(json.RawMessage) bool {
	return func(m json.RawMessage) bool { return gjson.GetBytes(m, "method").Str == name }
}

// TestStatelessListChanges: subscriptions/listen is acknowledged with
// only what the proxy can deliver (no upstream offers prompts), a config
// change arrives as tools/list_changed tagged with the subscription, and
// a cancelled subscription is never answered.
func TestStatelessListChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		demo := map[string]any{"command": "scripted"}
		c := coretest.New(t, coretest.Options{
			Scripts: map[string]scripted.Script{"demo": coretest.Demo(), "second": coretest.Demo()},
			Servers: map[string]any{"second": nil},
		})
		cl := c.Serve(t)
		cl.Call(`"first"`, "tools/list", `{`+modernMeta+`}`)
		cl.Send(`{"jsonrpc":"2.0","id":"sub","method":"subscriptions/listen","params":{` +
			`"notifications":{"toolsListChanged":true,"promptsListChanged":true},` + modernMeta + `}}`)
		ack, _ := cl.Next(0, method("notifications/subscriptions/acknowledged"))
		if got := gjson.GetBytes(ack, "params.notifications").Raw; got != `{"toolsListChanged":true}` {
			t.Fatalf("acknowledgement grants %s: %s", got, ack)
		}
		sub := gjson.GetBytes(ack, `params._meta.io\.modelcontextprotocol/subscriptionId`).Raw
		if sub == "" {
			t.Fatalf("the acknowledgement names no subscription: %s", ack)
		}

		from := len(cl.Messages())
		c.SetServers(t, map[string]any{"demo": demo, "second": demo})
		changed, _ := cl.Next(from, method("notifications/tools/list_changed"))
		if got := gjson.GetBytes(changed, `params._meta.io\.modelcontextprotocol/subscriptionId`).Raw; got != sub {
			t.Fatalf("list_changed tagged %s, want the subscription's %s: %s", got, sub, changed)
		}
		list := cl.Call(`"l"`, "tools/list", `{`+modernMeta+`}`)
		if !strings.Contains(string(list), `"second.echo"`) {
			t.Fatalf("the changed list lacks the new server: %s", list)
		}

		cl.Send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"sub"}}`)
		synctest.Wait()
		for _, m := range cl.Messages() {
			if gjson.GetBytes(m, "id").Raw == `"sub"` {
				t.Fatalf("a cancelled subscription was answered: %s", m)
			}
		}
	})
}

// TestMixedRevisions: one connection carries a legacy session and
// stateless requests. Each is answered in its own revision's shape, a
// stateless request without client capabilities is -32602, and the
// session keeps its notifications.
func TestMixedRevisions(t *testing.T) {
	demo := map[string]any{"command": "scripted"}
	c := coretest.New(t, coretest.Options{
		Scripts: map[string]scripted.Script{"demo": coretest.Demo(), "two": coretest.Demo()},
		Servers: map[string]any{"two": nil},
	})
	cl := c.Serve(t)
	cl.Initialize(`{}`)
	legacy := gjson.GetBytes(cl.Call(`"legacy"`, "tools/list", `{}`), "result")
	modern := gjson.GetBytes(cl.Call(`"modern"`, "tools/list", `{`+modernMeta+`}`), "result")
	if legacy.Get("resultType").Exists() || modern.Get("resultType").Str != "complete" || !modern.Get("ttlMs").Exists() {
		t.Fatalf("legacy list %.80s…, stateless list %.80s…", legacy.Raw, modern.Raw)
	}
	bad := cl.Call(`"bad"`, "tools/call", `{"name":"demo.echo","arguments":{"message":"x"},`+
		`"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}`)
	if code := gjson.GetBytes(bad, "error.code").Int(); code != -32602 {
		t.Fatalf("a stateless call without capabilities: %s", bad)
	}
	if got := cl.CallTool("demo.echo", map[string]any{"message": "still"}).Text(); got != "still" {
		t.Fatalf("a session call after it: %q", got)
	}
	from := len(cl.Messages())
	c.SetServers(t, map[string]any{"demo": demo, "two": demo})
	cl.Next(from, method("notifications/tools/list_changed"))
}

// TestUpstreamSpokenInTheClientsRevision: an upstream that speaks both
// revisions is spoken to as the client speaks, so nothing is bridged: a
// session client's calls reach it in a session (initialize), a stateless
// client's statelessly (server/discover, then requests with _meta);
// ICA_MCP_PROXY_UPSTREAM_REVISION overrides the client's.
func TestUpstreamSpokenInTheClientsRevision(t *testing.T) {
	both := coretest.Demo()
	both.Revision = scripted.Both
	session := func(cl *coretest.Client) json.RawMessage {
		cl.Initialize(`{}`)
		return cl.Call(`"c"`, "tools/call", `{"name":"up.echo","arguments":{"message":"hi"}}`)
	}
	for _, tc := range []struct {
		name  string
		start func(cl *coretest.Client) json.RawMessage
		first string
		env   map[string]string
	}{
		{"session, stateless asked first", session, "server/discover", map[string]string{"ICA_MCP_PROXY_UPSTREAM_REVISION": "stateless"}},
		{"session", session, "initialize", nil},
		{"stateless", func(cl *coretest.Client) json.RawMessage {
			return cl.Call(`"c"`, "tools/call", `{"name":"up.echo","arguments":{"message":"hi"},`+modernMeta+`}`)
		}, "server/discover", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := coretest.New(t, coretest.Options{Scripts: map[string]scripted.Script{"up": both}, Env: tc.env})
			if got := tc.start(c.Serve(t)); gjson.GetBytes(got, "result.content.0.text").Str != "hi" {
				t.Fatalf("the call: %s", got)
			}
			var methods []string
			for _, m := range c.Transport.Received("up") {
				methods = append(methods, gjson.GetBytes(m, "method").Str)
			}
			if len(methods) == 0 || methods[0] != tc.first || slices.Contains(methods, map[string]string{"initialize": "server/discover", "server/discover": "initialize"}[tc.first]) {
				t.Fatalf("the upstream received %v; want it opened with %s alone", methods, tc.first)
			}
		})
	}
}

// TestListenDeliversEveryDeclaredChange: subscriptions/listen grants every
// list change the proxy declares (tools, prompts, resources, when an
// upstream offers them) and delivers an upstream's prompt and resource
// list changes on the subscription, tagged with its id.
func TestListenDeliversEveryDeclaredChange(t *testing.T) {
	sc := coretest.Demo()
	sc.Revision = scripted.Stateless
	sc.Capabilities = json.RawMessage(`{"tools":{"listChanged":true},"prompts":{"listChanged":true},"resources":{"listChanged":true}}`)
	sc.Methods = map[string]json.RawMessage{
		"prompts/list":   json.RawMessage(`{"resultType":"complete","prompts":[{"name":"greet"}]}`),
		"resources/list": json.RawMessage(`{"resultType":"complete","resources":[{"uri":"demo://a","name":"a"}]}`),
	}
	sc.Tools = append(sc.Tools, json.RawMessage(`{"name":"change","inputSchema":{"type":"object"}}`))
	sc.Calls["change"] = scripted.Call{Steps: []scripted.Step{
		{Notify: json.RawMessage(`{"method":"notifications/prompts/list_changed"}`)},
		{Notify: json.RawMessage(`{"method":"notifications/resources/list_changed"}`)},
		{Result: json.RawMessage(`{"resultType":"complete","content":[]}`)},
	}}
	cl := coretest.New(t, coretest.Options{Scripts: map[string]scripted.Script{"up": sc}}).Serve(t)
	cl.Call(`"d"`, "server/discover", `{`+modernMeta+`}`)
	cl.Send(`{"jsonrpc":"2.0","id":"sub","method":"subscriptions/listen","params":{` +
		`"notifications":{"toolsListChanged":true,"promptsListChanged":true,"resourcesListChanged":true},` + modernMeta + `}}`)
	ack, _ := cl.Next(0, method("notifications/subscriptions/acknowledged"))
	if got := gjson.GetBytes(ack, "params.notifications"); !got.Get("toolsListChanged").Bool() || !got.Get("promptsListChanged").Bool() || !got.Get("resourcesListChanged").Bool() {
		t.Fatalf("acknowledgement: %s", ack)
	}
	from := len(cl.Messages())
	cl.Call(`"c"`, "tools/call", `{"name":"up.change","arguments":{},`+modernMeta+`}`)
	for _, m := range []string{"notifications/prompts/list_changed", "notifications/resources/list_changed"} {
		got, _ := cl.Next(from, method(m))
		if gjson.GetBytes(got, `params._meta.io\.modelcontextprotocol/subscriptionId`).Str != "sub" {
			t.Fatalf("%s not tagged with the subscription: %s", m, got)
		}
	}
}
