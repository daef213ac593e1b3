package proxy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/coretest"
)

// TestWarmToolCache: with the tool cache warm, tools/list is answered
// while a slow server is still starting, and a call to its tool waits for
// it; a server whose real list differs from the cached one is followed
// by tools/list_changed; an edited entry does not use the cached list.
func TestWarmToolCache(t *testing.T) {
	o := coretest.Options{
		Root:      t.TempDir(),
		Scripts:   demos("slow", "demo"),
		ToolCache: true,
		Env:       map[string]string{"ICA_MCP_PROXY_LIST_WAIT_S": "0.2"},
	}
	// Cold: the list has every server's tools once they are up.
	c := coretest.New(t, o)
	cl := c.Serve(t)
	cl.Initialize(`{}`)
	if names := cl.ToolNames(); !slices.Contains(names, "slow.echo") {
		t.Fatalf("cold list: %v", names)
	}
	_ = cl.Close()
	c.Proxy.Close()
	cache := filepath.Join(c.Home, "mcp-tool-cache.json")
	if fi, err := os.Stat(cache); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("tool cache: %v", err)
	}

	// Warm: listed before slow is up; a call to it waits for it.
	c = coretest.New(t, o)
	open := c.Transport.Gate("slow")
	cl = c.Serve(t)
	cl.Initialize(`{}`)
	if names := cl.ToolNames(); !slices.Contains(names, "slow.echo") {
		t.Fatalf("warm list while slow starts: %v", names)
	}
	cl.Send(`{"jsonrpc":"2.0","id":"w","method":"tools/call","params":{"name":"slow.echo","arguments":{"message":"worth the wait"}}}`)
	open()
	if got := gjson.GetBytes(cl.Wait(`"w"`), "result.content.0.text").Str; got != "worth the wait" {
		t.Fatalf("slow.echo: %q", got)
	}
	_ = cl.Close()
	c.Proxy.Close()

	// Out of date (slow.add dropped from the cache): served as cached,
	// then corrected with tools/list_changed once slow is up.
	coretest.DropCachedTool(t, cache, "slow", "add")
	eager := o
	eager.Env = map[string]string{"ICA_MCP_PROXY_LIST_WAIT_S": "0.2", "ICA_MCP_PROXY_START": "eager"}
	c = coretest.New(t, eager)
	open = c.Transport.Gate("slow")
	cl = c.Serve(t)
	cl.Initialize(`{}`)
	if names := cl.ToolNames(); slices.Contains(names, "slow.add") || !slices.Contains(names, "slow.echo") {
		t.Fatalf("list from the edited cache: %v", names)
	}
	from := len(cl.Messages())
	open()
	cl.Next(from, func(m json.RawMessage) bool {
		return gjson.GetBytes(m, "method").Str == "notifications/tools/list_changed"
	})
	if names := cl.ToolNames(); !slices.Contains(names, "slow.add") {
		t.Fatalf("list after list_changed: %v", names)
	}
	_ = cl.Close()
	c.Proxy.Close()

	// An edited entry: its cached list is not used, so the list does not
	// have slow's tools while it starts.
	edited := o
	edited.Servers = map[string]any{"slow": map[string]any{"command": "scripted", "args": []string{"--edited"}}}
	c = coretest.New(t, edited)
	defer c.Transport.Gate("slow")()
	cl = c.Serve(t)
	cl.Initialize(`{}`)
	if names := cl.ToolNames(); slices.Contains(names, "slow.echo") || !slices.Contains(names, "demo.echo") {
		t.Fatalf("an edited entry was served from the cache: %v", names)
	}
}
