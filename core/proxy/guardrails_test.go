package proxy_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/coretest"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/scripted"
)

// The guardrails on mirroring, in-process: what tools/list exposes, what
// proxy.mirror_status says of what was left out, and proxy.call still
// reaching every tool.

type mirrorStatus struct {
	ServersTotal    int  `json:"servers_total"`
	ServersMirrored int  `json:"servers_mirrored"`
	ToolsTotal      int  `json:"tools_total"`
	ToolsMirrored   int  `json:"tools_mirrored"`
	Truncated       bool `json:"truncated"`
	Reasons         []struct {
		Server string `json:"server"`
		Cap    string `json:"cap"`
		Detail string `json:"detail"`
	} `json:"reasons"`
}

func statusOf(t *testing.T, cl *coretest.Client, sep string) mirrorStatus {
	t.Helper()
	r := cl.CallTool("proxy"+sep+"mirror_status", map[string]any{})
	var st, fromText mirrorStatus
	if err := json.Unmarshal(r.StructuredContent, &st); err != nil {
		t.Fatalf("mirror_status structuredContent: %v: %s", err, r.StructuredContent)
	}
	if err := json.Unmarshal([]byte(r.Text()), &fromText); err != nil || fromText.ToolsTotal != st.ToolsTotal {
		t.Fatalf("mirror_status text is not the same JSON: %q", r.Text())
	}
	return st
}

func (st mirrorStatus) hasReason(server, cap string) bool {
	for _, r := range st.Reasons {
		if r.Server == server && r.Cap == cap {
			return true
		}
	}
	return false
}

func demos(names ...string) map[string]scripted.Script {
	out := map[string]scripted.Script{}
	for _, n := range names {
		out[n] = coretest.Demo()
	}
	return out
}

func mirrored(names []string) []string {
	var out []string
	for _, n := range names {
		if !strings.HasPrefix(n, "proxy") {
			out = append(out, n)
		}
	}
	return out
}

func hasBroker(names []string, sep string) bool {
	for _, b := range []string{"list_servers", "list_tools", "call", "mirror_status", "search_tools"} {
		if !slices.Contains(names, "proxy"+sep+b) {
			return false
		}
	}
	return true
}

// serve starts a core over scripts with env and opens a session.
func serve(t *testing.T, o coretest.Options) *coretest.Client {
	t.Helper()
	cl := coretest.New(t, o).Serve(t)
	cl.Initialize(`{}`)
	return cl
}

func TestGuardrailMaxServers(t *testing.T) {
	cl := serve(t, coretest.Options{Scripts: demos("demo1", "demo2", "demo3"), Env: map[string]string{"ICA_MCP_PROXY_MAX_SERVERS": "2"}})
	names := cl.ToolNames()
	want := []string{"demo1.echo", "demo1.add", "demo1.sleep", "demo2.echo", "demo2.add", "demo2.sleep"}
	if got := mirrored(names); !slices.Equal(got, want) || !hasBroker(names, ".") {
		t.Fatalf("tools/list = %v", names)
	}
	st := statusOf(t, cl, ".")
	if !st.Truncated || !st.hasReason("", "ICA_MCP_PROXY_MAX_SERVERS") || st.ServersTotal != 3 || st.ServersMirrored != 2 {
		t.Fatalf("mirror_status does not explain the server cap: %+v", st)
	}
	// The cut server is still reachable through the broker.
	if r := cl.CallTool("proxy.call", map[string]any{"server": "demo3", "tool": "echo", "args": map[string]any{"message": "hi"}}); r.IsError || r.Text() != "hi" {
		t.Fatalf("proxy.call to a server beyond the cap: %+v", r)
	}
}

func TestGuardrailMaxToolsPerServer(t *testing.T) {
	cl := serve(t, coretest.Options{Scripts: demos("demo1", "demo2", "demo3"), Env: map[string]string{"ICA_MCP_PROXY_MAX_TOOLS_PER_SERVER": "2"}})
	want := []string{"demo1.echo", "demo1.add", "demo2.echo", "demo2.add", "demo3.echo", "demo3.add"}
	if got := mirrored(cl.ToolNames()); !slices.Equal(got, want) {
		t.Fatalf("want the first 2 tools of each server, got %v", got)
	}
	st := statusOf(t, cl, ".")
	for _, s := range []string{"demo1", "demo2", "demo3"} {
		if !st.hasReason(s, "ICA_MCP_PROXY_MAX_TOOLS_PER_SERVER") {
			t.Errorf("no reason names %s and the per-server cap: %+v", s, st.Reasons)
		}
	}
	if st.ToolsTotal != 9 || st.ToolsMirrored != 6 || !st.Truncated {
		t.Fatalf("counts: %+v", st)
	}
}

func TestGuardrailMaxTotalTools(t *testing.T) {
	o := coretest.Options{Scripts: demos("demo1", "demo2", "demo3"), Env: map[string]string{"ICA_MCP_PROXY_MAX_TOTAL_TOOLS": "4"}}
	cl := serve(t, o)
	names := cl.ToolNames()
	// Deterministic: servers in name order, tools in the upstream's order.
	want := []string{"demo1.echo", "demo1.add", "demo1.sleep", "demo2.echo"}
	if got := mirrored(names); !slices.Equal(got, want) || !hasBroker(names, ".") {
		t.Fatalf("tools/list = %v", names)
	}
	st := statusOf(t, cl, ".")
	if !st.hasReason("demo2", "ICA_MCP_PROXY_MAX_TOTAL_TOOLS") || !st.hasReason("demo3", "ICA_MCP_PROXY_MAX_TOTAL_TOOLS") || st.hasReason("demo1", "ICA_MCP_PROXY_MAX_TOTAL_TOOLS") {
		t.Fatalf("reasons must name each server the total cap cut: %+v", st.Reasons)
	}
}

func TestGuardrailMaxSchemaBytes(t *testing.T) {
	// add's schemas (input and output, compact) are the largest: cap just
	// below them.
	var add struct{ InputSchema, OutputSchema json.RawMessage }
	_ = json.Unmarshal(coretest.Demo().Tools[1], &add)
	limit := len(add.InputSchema) + len(add.OutputSchema) - 1
	cl := serve(t, coretest.Options{Scripts: demos("demo"), Env: map[string]string{"ICA_MCP_PROXY_MAX_SCHEMA_BYTES": strconv.Itoa(limit)}})
	if got := mirrored(cl.ToolNames()); !slices.Equal(got, []string{"demo.echo", "demo.sleep"}) {
		t.Fatalf("tools/list = %v", got)
	}
	if st := statusOf(t, cl, "."); !st.hasReason("demo", "ICA_MCP_PROXY_MAX_SCHEMA_BYTES") {
		t.Fatalf("no schema-size reason: %+v", st.Reasons)
	}
	if r := cl.CallTool("proxy.call", map[string]any{"server": "demo", "tool": "add", "args": map[string]any{"a": 1, "b": 2}}); r.Text() != "3" {
		t.Fatalf("proxy.call add: %+v", r)
	}
}

func TestToolSeparator(t *testing.T) {
	cl := coretest.New(t, coretest.Options{Scripts: demos("my.demo"), Env: map[string]string{"ICA_MCP_PROXY_TOOL_SEPARATOR": "__"}}).Serve(t)
	// The instructions and the broker's descriptions name tools as the
	// model sees them.
	if init := string(cl.Initialize(`{}`)); !strings.Contains(init, "proxy__call") || strings.Contains(init, "proxy.") {
		t.Fatalf("instructions name the broker tools with dots: %s", init)
	}
	if list := string(cl.Call(`"l"`, "tools/list", `{}`)); strings.Contains(list, "proxy.") {
		t.Fatalf("a broker description names a tool with a dot: %s", list)
	}
	names := cl.ToolNames()
	if !hasBroker(names, "__") || !slices.Contains(names, "my_demo__echo") {
		t.Fatalf("tools/list = %v", names)
	}
	for _, n := range names {
		if strings.Contains(n, ".") {
			t.Fatalf("a dot survived in %q", n)
		}
	}
	if r := cl.CallTool("my_demo__echo", map[string]any{"message": "sep"}); r.Text() != "sep" {
		t.Fatalf("call through the separator: %+v", r)
	}
}

// ICA_MCP_PROXY_TOOL_NAME_MAX is the name budget a runtime's prefix
// leaves: every mirrored name fits it (cut ones keep a stable hash
// suffix, and can be called), and the proxy.* names are whole.
func TestToolNameBudget(t *testing.T) {
	cl := serve(t, coretest.Options{Scripts: demos("a-demo-server-with-a-long-name"),
		Env: map[string]string{"ICA_MCP_PROXY_TOOL_SEPARATOR": "__", "ICA_MCP_PROXY_TOOL_NAME_MAX": "30"}})
	names := cl.ToolNames()
	if !hasBroker(names, "__") {
		t.Fatalf("the proxy.* names were cut: %v", names)
	}
	echo := ""
	for _, n := range names {
		if len(n) > 30 {
			t.Fatalf("%q is longer than the budget of 30", n)
		}
		if strings.HasPrefix(n, "a-demo-server") {
			if r := cl.CallTool(n, map[string]any{"message": "cut"}); r.Text() == "cut" {
				echo = n
			}
		}
	}
	if echo == "" {
		t.Fatalf("no cut name reached the upstream's echo: %v", names)
	}
}

// include_tools / exclude_tools choose what is mirrored (globs, any case);
// ICA_MCP_PROXY_MIRROR=none exposes only proxy.*, and proxy.call still
// reaches every tool.
func TestToolFiltersAndMirrorNone(t *testing.T) {
	servers := map[string]any{
		"only":    map[string]any{"command": "scripted", "include_tools": []string{"EC*"}},
		"without": map[string]any{"command": "scripted", "exclude_tools": []string{"sl?ep"}},
	}
	cl := serve(t, coretest.Options{Scripts: demos("only", "without"), Servers: servers})
	if got := mirrored(cl.ToolNames()); !slices.Equal(got, []string{"only.echo", "without.echo", "without.add"}) {
		t.Fatalf("mirrored: %v", got)
	}
	if !statusOf(t, cl, ".").hasReason("only", "filter") {
		t.Fatal("mirror_status does not say what the filter left out")
	}

	cl = serve(t, coretest.Options{Scripts: demos("only", "without"), Servers: servers, Env: map[string]string{"ICA_MCP_PROXY_MIRROR": "none"}})
	names := cl.ToolNames()
	if got := mirrored(names); len(got) != 0 || !hasBroker(names, ".") {
		t.Fatalf("with MIRROR=none: %v", names)
	}
	if r := cl.CallTool("proxy.call", map[string]any{"server": "without", "tool": "echo", "args": map[string]any{"message": "via proxy.call"}}); r.Text() != "via proxy.call" {
		t.Fatalf("proxy.call: %+v", r)
	}
}

// proxy.search_tools ranks every tool, mirrored or cut by a guardrail, and
// what it returns is enough for proxy.call.
func TestSearchTools(t *testing.T) {
	cl := serve(t, coretest.Options{Scripts: demos("demo"), Env: map[string]string{"ICA_MCP_PROXY_MAX_TOOLS_PER_SERVER": "1"}})
	cl.ToolNames()
	var rep struct {
		Searched int `json:"searched"`
		Results  []struct {
			Server      string          `json:"server"`
			Name        string          `json:"name"`
			MirroredAs  string          `json:"mirrored_as"`
			InputSchema json.RawMessage `json:"inputSchema"`
		} `json:"results"`
	}
	r := cl.CallTool("proxy.search_tools", map[string]any{"query": "wait for some milliseconds", "limit": 2})
	if err := json.Unmarshal(r.StructuredContent, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Searched != 3 || len(rep.Results) == 0 || rep.Results[0].Name != "sleep" || rep.Results[0].MirroredAs != "" || len(rep.Results[0].InputSchema) == 0 {
		t.Fatalf("search: %s", r.StructuredContent)
	}
	if call := cl.CallTool("proxy.call", map[string]any{"server": rep.Results[0].Server, "tool": rep.Results[0].Name, "args": map[string]any{"ms": 1}}); call.IsError || call.Text() != "slept" {
		t.Fatalf("proxy.call of a found tool: %+v", call)
	}
	if r := cl.CallTool("proxy.search_tools", map[string]any{}); !r.IsError || !strings.Contains(r.Text(), `"query" is required`) {
		t.Fatalf("no query: %+v", r)
	}
}

// tool_prefix replaces the server's name in the exposed names: "" leaves
// the tools' own names, and a name taken already is hashed and reported.
func TestToolPrefix(t *testing.T) {
	bare := map[string]any{"command": "scripted", "tool_prefix": ""}
	cl := serve(t, coretest.Options{Scripts: demos("plain", "second", "d"), Servers: map[string]any{"plain": bare, "second": bare}})
	names := cl.ToolNames()
	if !slices.Contains(names, "echo") || !slices.Contains(names, "d.echo") || !hasBroker(names, ".") {
		t.Fatalf("tools/list = %v", names)
	}
	if got := cl.CallTool("echo", map[string]any{"message": "bare"}).Text(); got != "bare" {
		t.Fatalf("echo: %q", got)
	}
	if !statusOf(t, cl, ".").hasReason("second", "name_collision") {
		t.Fatal("the collision is not reported")
	}
}
