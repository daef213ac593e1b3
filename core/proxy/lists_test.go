package proxy_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/coretest"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/scripted"
)

// The shape of what the client is shown: names, schemas, capabilities,
// and a list that does not wait for a slow server.

// withEcho is the demo script with echo described as desc.
func withEcho(desc string) scripted.Script {
	sc := coretest.Demo()
	d, _ := json.Marshal(desc)
	sc.Tools[0] = json.RawMessage(`{"name":"echo","description":` + string(d) + `,"inputSchema":{"type":"object"}}`)
	return sc
}

// TestHomeServersWinNames: a project server whose prefix is a home
// server's name does not get the home server's names. docs.echo stays
// the user's, the project's tools appear under the project server's own
// name, and mirror_status says why.
func TestHomeServersWinNames(t *testing.T) {
	cl := serve(t, coretest.Options{
		Scripts: map[string]scripted.Script{"docs": withEcho("The user's echo."), "aaa": withEcho("The project's echo.")},
		Project: map[string]any{"aaa": map[string]any{"command": "scripted", "tool_prefix": "docs"}},
	})
	list := cl.Call(`"l"`, "tools/list", `{}`)
	desc := func(name string) string {
		return gjson.GetBytes(list, `result.tools.#(name=="`+name+`").description`).Str
	}
	if got := desc("docs.echo"); got != "The user's echo." {
		t.Fatalf("docs.echo is not the home server's: %q", got)
	}
	if got := desc("aaa.echo"); got != "The project's echo." {
		t.Fatalf("the project's echo: %q in %s", got, list)
	}
	if st := statusOf(t, cl, "."); !st.hasReason("aaa", "name_collision") {
		t.Fatalf("mirror_status does not report the collision: %+v", st.Reasons)
	}
}

// TestSlowUpstreamDoesNotHoldTheList: tools/list waits for a server that
// is slow to start only as long as ICA_MCP_PROXY_LIST_WAIT_S says, and
// shows it as starting; when it is up, the client is told the list
// changed, and the next list has its tools.
func TestSlowUpstreamDoesNotHoldTheList(t *testing.T) {
	c := coretest.New(t, coretest.Options{
		Scripts: demos("demo", "slow"),
		Env:     map[string]string{"ICA_MCP_PROXY_LIST_WAIT_S": "0.2"},
	})
	open := c.Transport.Gate("slow")
	defer open()
	cl := c.Serve(t)
	cl.Initialize(`{}`)
	names := cl.ToolNames()
	if !slices.Contains(names, "demo.echo") || slices.Contains(names, "slow.echo") {
		t.Fatalf("first tools/list = %v", names)
	}
	servers := cl.CallTool("proxy.list_servers", map[string]any{})
	if state := gjson.GetBytes(servers.StructuredContent, `servers.#(name=="slow").state`).Str; state != "starting" {
		t.Fatalf("the slow server should be reported starting: %s", servers.StructuredContent)
	}
	from := len(cl.Messages())
	open()
	cl.Next(from, func(m json.RawMessage) bool {
		return gjson.GetBytes(m, "method").Str == "notifications/tools/list_changed"
	})
	if names := cl.ToolNames(); !slices.Contains(names, "slow.echo") {
		t.Fatalf("after list_changed: %v", names)
	}
}

// TestCapabilitiesFollowUpstreams: the proxy declares resources, prompts
// and completions only when an upstream offers them.
func TestCapabilitiesFollowUpstreams(t *testing.T) {
	cl := coretest.New(t, coretest.Options{Scripts: demos("demo")}).Serve(t)
	caps := gjson.GetBytes(cl.Initialize(`{}`), "result.capabilities")
	for _, absent := range []string{"resources", "prompts", "completions"} {
		if caps.Get(absent).Exists() {
			t.Errorf("a tools-only upstream, yet the proxy declares %s: %s", absent, caps.Raw)
		}
	}
	if !caps.Get("tools").Exists() {
		t.Fatalf("no tools capability: %s", caps.Raw)
	}
}

// TestSchemaCompat: with ICA_MCP_PROXY_SCHEMA_COMPAT=1 a tool whose input
// schema uses $ref and a top-level oneOf is listed with a plain object
// schema; calls whose arguments fit the original reach the upstream,
// others are refused by the proxy with the reason.
func TestSchemaCompat(t *testing.T) {
	sc := scripted.Script{
		Revision: scripted.Legacy,
		Tools: []json.RawMessage{json.RawMessage(`{"name":"choose","description":"takes an id or a url","inputSchema":{` +
			`"$defs":{"Id":{"type":"string","pattern":"^[a-z]+$"}},"oneOf":[` +
			`{"type":"object","properties":{"id":{"$ref":"#/$defs/Id"}},"required":["id"],"additionalProperties":false},` +
			`{"type":"object","properties":{"url":{"type":"string"}},"required":["url"],"additionalProperties":false}]}}`)},
		Calls: map[string]scripted.Call{"choose": {Steps: []scripted.Step{{Result: json.RawMessage(`{"content":[{"type":"text","text":"chosen"}]}`)}}}},
	}
	c := coretest.New(t, coretest.Options{
		Scripts: map[string]scripted.Script{"s": sc},
		Env:     map[string]string{"ICA_MCP_PROXY_SCHEMA_COMPAT": "1"},
	})
	cl := c.Serve(t)
	cl.Initialize(`{}`)
	schema := gjson.GetBytes(cl.Call(`"l"`, "tools/list", `{}`), `result.tools.#(name=="s.choose").inputSchema`).Raw
	if !strings.Contains(schema, `"type":"object"`) || strings.Contains(schema, "oneOf") || strings.Contains(schema, "$ref") || strings.Contains(schema, "$defs") {
		t.Fatalf("s.choose's schema for strict clients: %s", schema)
	}
	if got := cl.CallTool("s.choose", map[string]any{"id": "abc"}).Text(); got != "chosen" {
		t.Fatalf("a call that fits: %q", got)
	}
	calls := len(c.Transport.Received("s"))
	for _, bad := range []map[string]any{{"id": "ABC"}, {"id": "abc", "url": "x"}, {}} {
		r := cl.CallTool("s.choose", bad)
		if !r.IsError || !strings.Contains(r.Text(), "do not fit the tool's input schema") {
			t.Fatalf("%v: %+v", bad, r)
		}
	}
	if n := len(c.Transport.Received("s")); n != calls {
		t.Fatalf("calls that do not fit reached the upstream: %d more messages", n-calls)
	}
}

// withPrompt is the demo script offering a prompt named greet, and
// completions for it.
func withPrompt() scripted.Script {
	sc := coretest.Demo()
	sc.Capabilities = json.RawMessage(`{"tools":{},"prompts":{},"completions":{}}`)
	sc.Methods = map[string]json.RawMessage{
		"prompts/list":        json.RawMessage(`{"prompts":[{"name":"greet","arguments":[{"name":"who"}]}]}`),
		"prompts/get":         json.RawMessage(`{"messages":[{"role":"user","content":{"type":"text","text":"hello"}}]}`),
		"completion/complete": json.RawMessage(`{"completion":{"values":["world"]}}`),
	}
	return sc
}

// TestPrefixNamesPrompts: an entry's prefix names its prompts as it names
// its tools ("prefix", or "tool_prefix" by its older name): "" exposes
// the upstream's own names, prompts/get and completion/complete reach the
// upstream under its name, a name taken already is hashed and reported,
// and a project's server cannot take a home server's prompt names.
func TestPrefixNamesPrompts(t *testing.T) {
	c := coretest.New(t, coretest.Options{
		Scripts: map[string]scripted.Script{"bare": withPrompt(), "old": withPrompt(), "home": withPrompt(), "proj": withPrompt()},
		Servers: map[string]any{
			"bare": map[string]any{"command": "scripted", "prefix": ""},
			"old":  map[string]any{"command": "scripted", "tool_prefix": ""},
			"home": map[string]any{"command": "scripted", "prefix": "h"},
		},
		Project: map[string]any{"proj": map[string]any{"command": "scripted", "prefix": "h"}},
	})
	cl := c.Serve(t)
	cl.Initialize(`{}`)
	if names := cl.ToolNames(); !slices.Contains(names, "echo") || !slices.Contains(names, "h.echo") {
		t.Fatalf("tools/list = %v", names)
	}
	list := cl.Call(`"p"`, "prompts/list", `{}`)
	var names []string
	for _, n := range gjson.GetBytes(list, "result.prompts.#.name").Array() {
		names = append(names, n.Str)
	}
	slices.Sort(names)
	// bare gets greet; old's greet collides (hashed); home keeps h.greet;
	// proj, prefixed "h" too, is named outside the home server's names.
	if len(names) != 4 || !slices.Contains(names, "greet") || !slices.Contains(names, "h.greet") || !slices.Contains(names, "proj.greet") {
		t.Fatalf("prompts/list names: %v", names)
	}
	got := cl.Call(`"g"`, "prompts/get", `{"name":"greet","arguments":{"who":"x"}}`)
	if gjson.GetBytes(got, "result.messages.0.content.text").Str != "hello" {
		t.Fatalf("prompts/get greet: %s", got)
	}
	last := func(server string) string {
		rec := c.Transport.Received(server)
		return string(rec[len(rec)-1])
	}
	if m := last("bare"); !strings.Contains(m, `"method":"prompts/get"`) || !strings.Contains(m, `"name":"greet"`) {
		t.Fatalf("bare received %s", m)
	}
	done := cl.Call(`"c"`, "completion/complete", `{"ref":{"type":"ref/prompt","name":"greet"},"argument":{"name":"who","value":"w"}}`)
	if gjson.GetBytes(done, "result.completion.values.0").Str != "world" {
		t.Fatalf("completion/complete: %s", done)
	}
	if m := last("bare"); !strings.Contains(m, `"method":"completion/complete"`) || !strings.Contains(m, `"name":"greet"`) {
		t.Fatalf("bare received %s", m)
	}
	if m := cl.Call(`"pg"`, "prompts/get", `{"name":"proj.greet"}`); !gjson.GetBytes(m, "result").Exists() || !strings.Contains(last("proj"), `"name":"greet"`) {
		t.Fatalf("prompts/get proj.greet: %s", m)
	}
	var st struct {
		Reasons []struct{ Server, Cap, Detail string } `json:"reasons"`
	}
	_ = json.Unmarshal(cl.CallTool("proxy.mirror_status", map[string]any{}).StructuredContent, &st)
	var said []string
	for _, r := range st.Reasons {
		if r.Cap == "name_collision" && strings.HasPrefix(r.Detail, "prompt ") {
			said = append(said, r.Server)
		}
	}
	slices.Sort(said)
	if !slices.Equal(said, []string{"old", "proj"}) {
		t.Fatalf("prompt name collisions reported for %v: %+v", said, st.Reasons)
	}
}

// TestPrefixAndToolPrefixDiffer: an entry giving both keys, differently,
// is an error that names both; the proxy serves the other servers.
func TestPrefixAndToolPrefixDiffer(t *testing.T) {
	cl := serve(t, coretest.Options{
		Scripts: demos("both", "fine"),
		Servers: map[string]any{"both": map[string]any{"command": "scripted", "prefix": "a", "tool_prefix": "b"}},
	})
	if names := cl.ToolNames(); !slices.Contains(names, "fine.echo") || slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "a.") || strings.HasPrefix(n, "b.") }) {
		t.Fatalf("tools/list = %v", names)
	}
	servers := cl.CallTool("proxy.list_servers", map[string]any{}).Text()
	if !strings.Contains(servers, `\"prefix\" (\"a\") and \"tool_prefix\" (\"b\") differ`) {
		t.Fatalf("list_servers does not say why: %s", servers)
	}
}
