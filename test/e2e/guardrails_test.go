package e2e

import (
	"encoding/json"
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

func mirrored(names []string) []string {
	var out []string
	for _, n := range names {
		if !strings.HasPrefix(n, "proxy") {
			out = append(out, n)
		}
	}
	return out
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// A bad include_tools pattern is named by the CLI's servers report. (The
// guardrails themselves are tested in-process, in core/proxy.)
func TestBadToolPattern(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bad := demoServer()
	bad["include_tools"] = []string{"[unclosed"}
	e.writeProject(t, map[string]any{"bad": bad})
	out, _ := e.command("servers").Output()
	if !strings.Contains(string(out), `\"include_tools\" must be a list of glob patterns`) {
		t.Fatalf("a bad pattern: %s", out)
	}
}
