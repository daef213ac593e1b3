package mirror

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
)

// Limits are the guardrails; 0 disables a limit.
type Limits struct {
	MaxServers        int
	MaxToolsPerServer int
	MaxTotalTools     int
	MaxSchemaBytes    int
	// MaxNameLen is the longest exposed name; 0: MaxNameLen.
	MaxNameLen int
	// SchemaCompat rewrites input schemas for strict clients (see
	// CompatSchema); not a limit, but decided in the same place.
	SchemaCompat bool
}

// Env var names of the caps, as reasons name them.
const (
	CapServers        = "ICA_MCP_PROXY_MAX_SERVERS"
	CapToolsPerServer = "ICA_MCP_PROXY_MAX_TOOLS_PER_SERVER"
	CapTotalTools     = "ICA_MCP_PROXY_MAX_TOTAL_TOOLS"
	CapSchemaBytes    = "ICA_MCP_PROXY_MAX_SCHEMA_BYTES"
)

// ServerTools is one server's tool list, raw, as the upstream sent it.
type ServerTools struct {
	Server string
	Tools  []json.RawMessage
	// Prefix, when set, replaces the server's name before the tool's in
	// the exposed names (tool_prefix); "" exposes the tools' own names.
	Prefix *string
	// Home marks the user's own servers (from $ICA_HOME): a project's
	// server may not take a home server's prefix (see Build).
	Home bool
}

func (st ServerTools) owner() owner {
	return owner{server: st.Server, prefix: st.Prefix, home: st.Home}
}

// Tool is one exposed tool.
type Tool struct {
	// Exposed is the name clients see.
	Exposed string `json:"name"`
	// Server and Name locate the tool upstream.
	Server string `json:"server"`
	Name   string `json:"tool"`
	// Definition is the upstream's tool object with "name" replaced by
	// Exposed; every other key is byte-for-byte what the upstream sent.
	Definition json.RawMessage `json:"-"`
	// check holds the original input schema when SchemaCompat rewrote it.
	check *argsCheck
}

// Reason records one cap that cut something.
type Reason struct {
	Server string `json:"server,omitempty"`
	Cap    string `json:"cap"`
	Limit  int    `json:"limit"`
	Detail string `json:"detail"`
}

// Table is the outcome of mirroring: the exposed tools and what was cut.
type Table struct {
	Tools      []Tool
	byName     map[string]int
	byTool     map[[2]string]int // (server, upstream name) → index in Tools
	ToolsTotal int
	// Truncated is true when any cap cut a tool or a server.
	Truncated bool
	Reasons   []Reason
	// Skipped lists per server the upstream tool names not exposed.
	Skipped map[string][]string
}

// Lookup finds an exposed tool by the name clients use.
func (t *Table) Lookup(name string) (Tool, bool) {
	if t == nil {
		return Tool{}, false
	}
	i, ok := t.byName[name]
	if !ok {
		return Tool{}, false
	}
	return t.Tools[i], true
}

// ExposedName returns the name a server's tool is exposed under, or "".
func (t *Table) ExposedName(server, tool string) string {
	if t == nil {
		return ""
	}
	if i, ok := t.byTool[[2]string{server, tool}]; ok {
		return t.Tools[i].Exposed
	}
	return ""
}

// ServerCap returns the servers that may be mirrored: the first
// MaxServers of names (which must be sorted), and the reason for the cut.
func ServerCap(names []string, lim Limits) ([]string, *Reason) {
	if lim.MaxServers <= 0 || len(names) <= lim.MaxServers {
		return names, nil
	}
	cut := names[lim.MaxServers:]
	return names[:lim.MaxServers], &Reason{
		Cap:    CapServers,
		Limit:  lim.MaxServers,
		Detail: fmt.Sprintf("%d servers not mirrored (still reachable with proxy.call): %s", len(cut), strings.Join(cut, ", ")),
	}
}

// Build exposes the tools of servers (in the order given, which must be
// deterministic) within lim. reserved names (the proxy's own tools) are
// never given to an upstream tool.
func Build(servers []ServerTools, lim Limits, sep string, reserved []string) *Table {
	t := &Table{byName: make(map[string]int), byTool: make(map[[2]string]int), Skipped: make(map[string][]string)}
	owners := make([]owner, len(servers))
	for i, st := range servers {
		owners[i] = st.owner()
	}
	names := newNamer(owners, sep, lim.MaxNameLen, reserved)
	totalCut := map[string]int{}
	var totalCutOrder []string

	for _, st := range servers {
		t.ToolsTotal += len(st.Tools)
		var tooBig []string
		seen := make(map[string]bool)
		kept, valid := 0, 0
		for i, raw := range st.Tools {
			def, err := parseTool(raw)
			if err != nil {
				t.skip(st.Server, fmt.Sprintf("#%d", i))
				t.Reasons = append(t.Reasons, Reason{Server: st.Server, Cap: "invalid_tool", Detail: fmt.Sprintf("tool #%d: %v", i, err)})
				continue
			}
			if seen[def.Name] {
				t.skip(st.Server, def.Name)
				t.Reasons = append(t.Reasons, Reason{Server: st.Server, Cap: "duplicate_tool", Detail: fmt.Sprintf("tool %q is listed twice; the first is mirrored", def.Name)})
				continue
			}
			seen[def.Name] = true
			valid++
			if lim.MaxSchemaBytes > 0 && def.schemaBytes > lim.MaxSchemaBytes {
				t.skip(st.Server, def.Name)
				tooBig = append(tooBig, fmt.Sprintf("%s (%d bytes)", def.Name, def.schemaBytes))
				continue
			}
			if lim.MaxToolsPerServer > 0 && kept >= lim.MaxToolsPerServer {
				t.skip(st.Server, def.Name)
				continue
			}
			if lim.MaxTotalTools > 0 && len(t.Tools) >= lim.MaxTotalTools {
				t.skip(st.Server, def.Name)
				if totalCut[st.Server] == 0 {
					totalCutOrder = append(totalCutOrder, st.Server)
				}
				totalCut[st.Server]++
				continue
			}
			kept++
			name, why := names.name(st.owner(), "tool", def.Name)
			t.Reasons = append(t.Reasons, why...)
			if name == "" {
				t.skip(st.Server, def.Name)
				continue
			}
			definition, err := rename(raw, name)
			if err != nil {
				t.skip(st.Server, def.Name)
				continue
			}
			t.byName[name] = len(t.Tools)
			t.byTool[[2]string{st.Server, def.Name}] = len(t.Tools)
			tool := Tool{Exposed: name, Server: st.Server, Name: def.Name, Definition: definition}
			if lim.SchemaCompat {
				var original json.RawMessage
				if tool.Definition, original = compatDefinition(definition); original != nil {
					tool.check = &argsCheck{schema: original}
				}
			}
			t.Tools = append(t.Tools, tool)
		}
		if len(tooBig) > 0 {
			t.Reasons = append(t.Reasons, Reason{Server: st.Server, Cap: CapSchemaBytes, Limit: lim.MaxSchemaBytes,
				Detail: "schemas too large, not mirrored: " + strings.Join(tooBig, ", ")})
		}
		// What the per-server cap cuts on its own, whether or not the total
		// cap got there first.
		if over := valid - len(tooBig) - lim.MaxToolsPerServer; lim.MaxToolsPerServer > 0 && over > 0 {
			t.Reasons = append(t.Reasons, Reason{Server: st.Server, Cap: CapToolsPerServer, Limit: lim.MaxToolsPerServer,
				Detail: fmt.Sprintf("%d tools over the per-server cap not mirrored", over)})
		}
	}
	for _, s := range totalCutOrder {
		t.Reasons = append(t.Reasons, Reason{Server: s, Cap: CapTotalTools, Limit: lim.MaxTotalTools,
			Detail: fmt.Sprintf("%d tools not mirrored: the total cap was reached", totalCut[s])})
	}
	for _, r := range t.Reasons {
		if r.Cap != "" {
			t.Truncated = true
		}
	}
	return t
}

func (t *Table) skip(server, tool string) {
	t.Skipped[server] = append(t.Skipped[server], tool)
}

type toolDef struct {
	Name        string `json:"name"`
	schemaBytes int
}

func parseTool(raw json.RawMessage) (toolDef, error) {
	var d struct {
		Name         string          `json:"name"`
		InputSchema  json.RawMessage `json:"inputSchema"`
		OutputSchema json.RawMessage `json:"outputSchema"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return toolDef{}, fmt.Errorf("not a tool object: %w", err)
	}
	if d.Name == "" {
		return toolDef{}, fmt.Errorf("has no name")
	}
	// A parameter sent in an HTTP header as well (2026-07-28) must be
	// annotated within the revision's rules; a client must not call a
	// tool whose annotations break them, and the proxy is that client.
	if bytes.Contains(d.InputSchema, []byte(`"x-mcp-header"`)) {
		var tool mcp.Tool
		if err := json.Unmarshal(raw, &tool); err != nil {
			return toolDef{}, fmt.Errorf("%q: %w", d.Name, err)
		}
		if err := mcp.ValidateParamHeaderAnnotations(&tool); err != nil {
			return toolDef{}, fmt.Errorf("%q: %w", d.Name, err)
		}
	}
	return toolDef{Name: d.Name, schemaBytes: len(d.InputSchema) + len(d.OutputSchema)}, nil
}

// rename replaces the "name" of a raw tool object, keeping every other
// member's bytes.
func rename(raw json.RawMessage, name string) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	n, _ := json.Marshal(name)
	m["name"] = n
	return json.Marshal(m)
}

// Same reports whether a and b expose the same tools with the same
// definitions.
func Same(a, b *Table) bool {
	if a == nil || b == nil {
		return a == b
	}
	if len(a.Tools) != len(b.Tools) {
		return false
	}
	for i := range a.Tools {
		if a.Tools[i].Exposed != b.Tools[i].Exposed || string(a.Tools[i].Definition) != string(b.Tools[i].Definition) {
			return false
		}
	}
	return true
}
