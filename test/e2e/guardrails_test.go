package e2e

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

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
	Blocked []any `json:"blocked_servers"`
	Sources []struct {
		Kind  string `json:"kind"`
		Error string `json:"error"`
	} `json:"sources"`
	Servers map[string]struct {
		State    string `json:"state"`
		Error    string `json:"error"`
		Mirrored int    `json:"mirrored"`
	} `json:"servers"`
}

func (c *rpc) mirrorStatus() mirrorStatus {
	c.t.Helper()
	r := decodeResult(c.t, c.callTool("proxy.mirror_status", map[string]any{}))
	var st mirrorStatus
	if err := json.Unmarshal(r.StructuredContent, &st); err != nil {
		c.t.Fatalf("mirror_status structuredContent: %v: %s", err, r.StructuredContent)
	}
	// The text is the same JSON.
	var fromText mirrorStatus
	if err := json.Unmarshal([]byte(r.text()), &fromText); err != nil || fromText.ToolsTotal != st.ToolsTotal {
		c.t.Fatalf("mirror_status text is not the same JSON: %q", r.text())
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

func threeDemos() map[string]any {
	return map[string]any{"demo1": demoServer(), "demo2": demoServer(), "demo3": demoServer()}
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
	for _, b := range []string{"list_servers", "list_tools", "call", "mirror_status"} {
		if !slices.Contains(names, "proxy"+sep+b) {
			return false
		}
	}
	return true
}

func TestGuardrailMaxServers(t *testing.T) {
	e := newEnv(t)
	e.writeProject(t, threeDemos())
	e.set("ICA_MCP_PROXY_MAX_SERVERS=2")
	p := startProxy(t, e)
	names := p.toolNames()
	got := mirrored(names)
	want := []string{"demo1.add", "demo1.echo", "demo1.sleep", "demo2.add", "demo2.echo", "demo2.sleep"}
	if !slices.Equal(got, want) || !hasBroker(names, ".") {
		t.Fatalf("tools/list = %v", names)
	}
	st := p.mirrorStatus()
	if !st.Truncated || !st.hasReason("", "ICA_MCP_PROXY_MAX_SERVERS") || st.ServersTotal != 3 || st.ServersMirrored != 2 {
		t.Fatalf("mirror_status does not explain the server cap: %+v", st)
	}
	// The cut server is still reachable through the broker.
	r := decodeResult(t, p.callTool("proxy.call", map[string]any{"server": "demo3", "tool": "echo", "args": map[string]any{"message": "hi"}}))
	if r.IsError || r.text() != "hi" {
		t.Fatalf("proxy.call to a server beyond the cap: %+v", r)
	}
}

func TestGuardrailMaxToolsPerServer(t *testing.T) {
	e := newEnv(t)
	e.writeProject(t, threeDemos())
	e.set("ICA_MCP_PROXY_MAX_TOOLS_PER_SERVER=2")
	p := startProxy(t, e)
	got := mirrored(p.toolNames())
	want := []string{"demo1.echo", "demo1.add", "demo2.echo", "demo2.add", "demo3.echo", "demo3.add"}
	slices.Sort(got)
	slices.Sort(want)
	if len(got) != 6 {
		t.Fatalf("want 2 tools from each of 3 servers, got %v", got)
	}
	st := p.mirrorStatus()
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
	e := newEnv(t)
	e.writeProject(t, threeDemos())
	e.set("ICA_MCP_PROXY_MAX_TOTAL_TOOLS=4")
	p := startProxy(t, e)
	names := p.toolNames()
	got := mirrored(names)
	// Deterministic: servers in name order, tools in the upstream's order.
	if len(got) != 4 || !strings.HasPrefix(got[3], "demo2.") || !hasBroker(names, ".") {
		t.Fatalf("tools/list = %v", names)
	}
	st := p.mirrorStatus()
	if !st.hasReason("demo2", "ICA_MCP_PROXY_MAX_TOTAL_TOOLS") || !st.hasReason("demo3", "ICA_MCP_PROXY_MAX_TOTAL_TOOLS") || st.hasReason("demo1", "ICA_MCP_PROXY_MAX_TOTAL_TOOLS") {
		t.Fatalf("reasons must name each server the total cap cut: %+v", st.Reasons)
	}
	// A second proxy mirrors exactly the same tools.
	if again := mirrored(startProxy(t, e).toolNames()); !slices.Equal(again, got) {
		t.Fatalf("truncation is not deterministic: %v then %v", got, again)
	}
}

func TestGuardrailMaxSchemaBytes(t *testing.T) {
	e := newEnv(t)
	e.writeProject(t, map[string]any{"demo": demoServer()})
	// Learn the schema sizes through the CLI.
	out, err := e.command("tools", "--server", "demo", "--schema").Output()
	if err != nil {
		t.Fatalf("tools --server: %v", err)
	}
	var rep struct {
		Tools []struct {
			Name         string          `json:"name"`
			InputSchema  json.RawMessage `json:"inputSchema"`
			OutputSchema json.RawMessage `json:"outputSchema"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("tools output: %v\n%s", err, out)
	}
	sizes := map[string]int{}
	compactLen := func(raw json.RawMessage) int {
		var b bytes.Buffer
		_ = json.Compact(&b, raw) // the CLI indents; the upstream sends compact JSON
		return b.Len()
	}
	for _, x := range rep.Tools {
		sizes[x.Name] = compactLen(x.InputSchema) + compactLen(x.OutputSchema)
	}
	// add has an output schema, so it is the biggest: cap just below it.
	limit := sizes["add"] - 1
	if sizes["echo"] > limit || sizes["sleep"] > limit {
		t.Fatalf("unexpected schema sizes %v", sizes)
	}
	e.set("ICA_MCP_PROXY_MAX_SCHEMA_BYTES=" + itoa(limit))
	p := startProxy(t, e)
	got := mirrored(p.toolNames())
	if slices.Contains(got, "demo.add") || !slices.Contains(got, "demo.echo") {
		t.Fatalf("tools/list = %v", got)
	}
	st := p.mirrorStatus()
	if !st.hasReason("demo", "ICA_MCP_PROXY_MAX_SCHEMA_BYTES") {
		t.Fatalf("no schema-size reason: %+v", st.Reasons)
	}
	// Still callable through the broker.
	if r := decodeResult(t, p.callTool("proxy.call", map[string]any{"server": "demo", "tool": "add", "args": map[string]any{"a": 1, "b": 2}})); r.text() != "3" {
		t.Fatalf("proxy.call add: %+v", r)
	}
}

func TestToolSeparator(t *testing.T) {
	e := newEnv(t)
	e.writeProject(t, map[string]any{"my.demo": demoServer()})
	e.set("ICA_MCP_PROXY_TOOL_SEPARATOR=__")
	p := startRPC(t, e.command())
	// The instructions and the broker's descriptions name tools as the
	// model sees them.
	init := string(p.initialize())
	if !strings.Contains(init, "proxy__call") || strings.Contains(init, "proxy.") {
		t.Fatalf("instructions name the broker tools with dots: %s", init)
	}
	if list := string(p.result("tools/list", map[string]any{})); strings.Contains(list, "proxy.") {
		t.Fatalf("a broker description names a tool with a dot: %s", list)
	}
	names := p.toolNames()
	if !hasBroker(names, "__") || !slices.Contains(names, "my_demo__echo") {
		t.Fatalf("tools/list = %v", names)
	}
	for _, n := range names {
		if strings.Contains(n, ".") {
			t.Fatalf("a dot survived in %q", n)
		}
	}
	if r := decodeResult(t, p.callTool("my_demo__echo", map[string]any{"message": "sep"})); r.text() != "sep" {
		t.Fatalf("call through the separator: %+v", r)
	}
}

// ICA_MCP_PROXY_TOOL_NAME_MAX is the name budget a runtime's prefix
// leaves: every mirrored name fits it (cut ones keep a stable hash
// suffix, and can be called), and the proxy.* names are whole.
func TestToolNameBudget(t *testing.T) {
	e := newEnv(t)
	e.writeProject(t, map[string]any{"a-demo-server-with-a-long-name": demoServer()})
	e.set("ICA_MCP_PROXY_TOOL_SEPARATOR=__", "ICA_MCP_PROXY_TOOL_NAME_MAX=30")
	p := startProxy(t, e)
	names := p.toolNames()
	if !hasBroker(names, "__") {
		t.Fatalf("the proxy.* names were cut: %v", names)
	}
	var echo string
	for _, n := range names {
		if len(n) > 30 {
			t.Fatalf("%q is longer than the budget of 30", n)
		}
		if strings.HasPrefix(n, "a-demo-server") && len(n) == 30 && strings.Contains(n, "-") {
			if got := decodeResult(t, p.callTool(n, map[string]any{"message": "cut", "a": 1, "b": 2, "ms": 1})); !got.IsError && got.text() == "cut" {
				echo = n
			}
		}
	}
	if echo == "" {
		t.Fatalf("no cut name reached the upstream's echo: %v", names)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// include_tools / exclude_tools choose what is mirrored (globs, any case);
// ICA_MCP_PROXY_MIRROR=none exposes only proxy.*, and proxy.call still
// reaches every tool.
func TestToolFiltersAndMirrorNone(t *testing.T) {
	e := newEnv(t)
	only := demoServer()
	only["include_tools"] = []string{"EC*"}
	without := demoServer()
	without["exclude_tools"] = []string{"sl?ep"}
	e.writeProject(t, map[string]any{"only": only, "without": without})
	c := startProxy(t, e)
	if got := mirrored(c.toolNames()); !slices.Equal(got, []string{"only.echo", "without.add", "without.echo"}) {
		t.Fatalf("mirrored: %v", got)
	}
	if !c.mirrorStatus().hasReason("only", "filter") {
		t.Fatal("mirror_status does not say what the filter left out")
	}
	_ = c.stdin.Close()
	<-c.done

	e.set("ICA_MCP_PROXY_MIRROR=none")
	c = startProxy(t, e)
	names := c.toolNames()
	if got := mirrored(names); len(got) != 0 || !hasBroker(names, ".") {
		t.Fatalf("with MIRROR=none: %v", names)
	}
	r := decodeResult(t, c.callTool("proxy.call", map[string]any{"server": "without", "tool": "echo", "args": map[string]any{"message": "via proxy.call"}}))
	if r.text() != "via proxy.call" {
		t.Fatalf("proxy.call: %+v", r)
	}

	bad := demoServer()
	bad["include_tools"] = []string{"[unclosed"}
	e.writeProject(t, map[string]any{"bad": bad})
	out, _ := e.command("servers").Output()
	if !strings.Contains(string(out), `\"include_tools\" must be a list of glob patterns`) {
		t.Fatalf("a bad pattern: %s", out)
	}
}

// proxy.search_tools ranks every tool, mirrored or cut by a guardrail, and
// what it returns is enough for proxy.call.
func TestSearchTools(t *testing.T) {
	e := newEnv(t)
	e.set("ICA_MCP_PROXY_MAX_TOOLS_PER_SERVER=1")
	e.writeProject(t, map[string]any{"demo": demoServer()})
	c := startProxy(t, e)
	c.toolNames()
	var rep struct {
		Searched int `json:"searched"`
		Results  []struct {
			Server      string          `json:"server"`
			Name        string          `json:"name"`
			MirroredAs  string          `json:"mirrored_as"`
			InputSchema json.RawMessage `json:"inputSchema"`
		} `json:"results"`
	}
	r := decodeResult(t, c.callTool("proxy.search_tools", map[string]any{"query": "wait for some milliseconds", "limit": 2}))
	if err := json.Unmarshal(r.StructuredContent, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Searched != 3 || len(rep.Results) == 0 || rep.Results[0].Name != "sleep" || rep.Results[0].MirroredAs != "" || len(rep.Results[0].InputSchema) == 0 {
		t.Fatalf("search: %s", r.StructuredContent)
	}
	call := decodeResult(t, c.callTool("proxy.call", map[string]any{"server": rep.Results[0].Server, "tool": rep.Results[0].Name, "args": map[string]any{"ms": 1}}))
	if call.IsError {
		t.Fatalf("proxy.call of a found tool: %+v", call)
	}
	if r := decodeResult(t, c.callTool("proxy.search_tools", map[string]any{})); !r.IsError || !strings.Contains(r.text(), `"query" is required`) {
		t.Fatalf("no query: %+v", r)
	}
}

// tool_prefix replaces the server's name in the exposed names: "" leaves
// the tools' own names, and a name taken already is hashed and reported.
func TestToolPrefix(t *testing.T) {
	e := newEnv(t)
	plain, second := demoServer(), demoServer()
	plain["tool_prefix"], second["tool_prefix"] = "", ""
	e.writeProject(t, map[string]any{"plain": plain, "second": second, "d": demoServer()})
	p := startProxy(t, e)
	names := p.toolNames()
	if !slices.Contains(names, "echo") || !slices.Contains(names, "d.echo") || !hasBroker(names, ".") {
		t.Fatalf("tools/list = %v", names)
	}
	if got := decodeResult(t, p.callTool("echo", map[string]any{"message": "bare"})).text(); got != "bare" {
		t.Fatalf("echo: %q", got)
	}
	if !p.mirrorStatus().hasReason("second", "name_collision") {
		t.Fatalf("the collision is not reported: %+v", p.mirrorStatus())
	}
}
