package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// With the tool cache warm, tools/list is answered at once, before a slow
// server has started; a call to its tool waits for it; a server whose real
// list differs from the cached one is followed by tools/list_changed; and
// an edited entry does not use the cached list.
func TestWarmToolCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	slow := func(delay string) map[string]any {
		return map[string]any{"command": "sh", "args": []string{"-c", "sleep " + delay + "; exec " + demoBin()}}
	}
	e.writeProject(t, map[string]any{"slow": slow("3"), "demo": demoServer()})
	stop := func(c *rpc) {
		_ = c.stdin.Close()
		<-c.done
	}
	listTimed := func(c *rpc) ([]string, time.Duration) {
		start := time.Now()
		names := c.toolNames()
		return names, time.Since(start)
	}

	// Cold: the first list waits for the slow server.
	c := startProxy(t, e)
	if names, _ := listTimed(c); !slices.Contains(names, "slow.echo") {
		t.Fatalf("cold list: %v", names)
	}
	stop(c)
	cache := filepath.Join(e.home, "mcp-tool-cache.json")
	if fi, err := os.Stat(cache); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("tool cache: %v", err)
	}

	// Warm: at once, with the slow server's tools; calling one waits for it.
	c = startProxy(t, e)
	names, took := listTimed(c)
	if !slices.Contains(names, "slow.echo") || took > 2*time.Second {
		t.Fatalf("warm list after %s: %v", took, names)
	}
	if got := decodeResult(t, c.callTool("slow.echo", map[string]any{"message": "worth the wait"})).text(); got != "worth the wait" {
		t.Fatalf("slow.echo: %q", got)
	}
	stop(c)

	// The cached list is out of date (slow.add missing): served at once,
	// then corrected with tools/list_changed.
	dropCachedTool(t, cache, "slow", "add")
	e.set("ICA_MCP_PROXY_START=eager") // lazily, slow would not start (see TestLazyStart)
	c = startProxy(t, e)
	if names, took := listTimed(c); slices.Contains(names, "slow.add") || !slices.Contains(names, "slow.echo") || took > 2*time.Second {
		t.Fatalf("list from the edited cache after %s: %v", took, names)
	}
	if !c.waitNotification("notifications/tools/list_changed", 15*time.Second) {
		t.Fatal("no tools/list_changed when the real list arrived")
	}
	if names := c.toolNames(); !slices.Contains(names, "slow.add") {
		t.Fatalf("list after list_changed: %v", names)
	}
	stop(c)

	// An edited entry: its cached list is not used.
	e.writeProject(t, map[string]any{"slow": slow("3.5"), "demo": demoServer()})
	c = startProxy(t, e)
	if names, took := listTimed(c); !slices.Contains(names, "slow.echo") || took < 1500*time.Millisecond {
		t.Fatalf("an edited entry was served from the cache (%s): %v", took, names)
	}
	stop(c)
}

// dropCachedTool removes tool from server's list in the tool cache file,
// so that the cached list is out of date.
func dropCachedTool(t *testing.T, cache, server, tool string) {
	t.Helper()
	data, err := os.ReadFile(cache)
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	entry := f["servers"].(map[string]any)[server].(map[string]any)
	var kept []any
	for _, def := range entry["tools"].([]any) {
		if !strings.Contains(def.(string), `"`+tool+`"`) {
			kept = append(kept, def)
		}
	}
	entry["tools"] = kept
	writeJSON(t, cache, f)
}
