package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/coretest"
)

// lazyServers writes a project of demo servers, each of which appends a
// line to its own file in dir whenever it starts, and returns how to
// count those starts.
func lazyServers(t *testing.T, e *env, names []string, extra map[string]map[string]any) func(name string) int {
	t.Helper()
	dir := t.TempDir()
	servers := map[string]any{}
	for _, n := range names {
		entry := map[string]any{
			"command": "sh",
			"args":    []string{"-c", "echo started >> " + filepath.Join(dir, n) + "; exec " + demoBin()},
			"env":     map[string]string{"ICA_DEMO_FEATURES": "1"},
		}
		for k, v := range extra[n] {
			entry[k] = v
		}
		servers[n] = entry
	}
	e.writeProject(t, servers)
	return func(name string) int {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		return strings.Count(string(data), "started")
	}
}

// serverStates is each server's state as proxy.list_servers reports it.
func serverStates(t *testing.T, c *rpc) map[string]string {
	t.Helper()
	var rep struct {
		Servers []struct {
			Name  string `json:"name"`
			State string `json:"state"`
		} `json:"servers"`
	}
	if err := json.Unmarshal(decodeResult(t, c.callTool("proxy.list_servers", map[string]any{})).StructuredContent, &rep); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range rep.Servers {
		out[s.Name] = s.State
	}
	return out
}

// waitStarts waits, boundedly, until starts(name) reaches want.
func waitStarts(starts func(string) int, name string, want int) int {
	for range 100 {
		if n := starts(name); n >= want {
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
	return starts(name)
}

func stopProxy(c *rpc) {
	_ = c.stdin.Close()
	<-c.done
}

// A warm start (the tool cache knows every server) runs no upstream until
// a call, and then exactly one: the called tool's server. Tools, resources
// and prompts are listed from the cache meanwhile; the first call says,
// as progress, which server is starting; and the server's real list then
// replaces the cached one.
func TestLazyStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	starts := lazyServers(t, e, []string{"a", "b", "c"}, nil)

	// Cold: the cache knows nothing, so all start on the first request.
	c := startProxy(t, e)
	if names := c.toolNames(); !slices.Contains(names, "a.echo") || !slices.Contains(names, "b.echo") {
		t.Fatalf("cold list: %v", names)
	}
	c.result("prompts/list", map[string]any{}) // cached for the warm start
	c.result("resources/list", map[string]any{})
	stopProxy(c)
	if starts("a") != 1 || starts("b") != 1 || starts("c") != 1 {
		t.Fatalf("cold start: a started %d times, b %d, c %d", starts("a"), starts("b"), starts("c"))
	}

	// Drop a.add from the cache: the real list, once a starts, restores it.
	coretest.DropCachedTool(t, filepath.Join(e.home, "mcp-tool-cache.json"), "a", "add")

	// Warm: everything is listed, nothing starts.
	c = startProxy(t, e)
	names := c.toolNames()
	if !slices.Contains(names, "a.echo") || slices.Contains(names, "a.add") || !slices.Contains(names, "b.echo") {
		t.Fatalf("warm list: %v", names)
	}
	prompts := string(c.result("prompts/list", map[string]any{}))
	if !strings.Contains(prompts, `"a.greet"`) || !strings.Contains(prompts, `"b.greet"`) {
		t.Fatalf("prompts of dormant servers, from the cache: %s", prompts)
	}
	if res := string(c.result("resources/list", map[string]any{})); !strings.Contains(res, `"demo://greeting"`) {
		t.Fatalf("resources of dormant servers, from the cache: %s", res)
	}
	time.Sleep(time.Second) // what an eager start would have needed
	if st := serverStates(t, c); st["a"] != "not_started" || st["b"] != "not_started" || st["c"] != "not_started" {
		t.Fatalf("states before any call: %v", st)
	}
	if starts("a") != 1 || starts("b") != 1 || starts("c") != 1 {
		t.Fatalf("a warm start started servers: a %d times, b %d, c %d", starts("a"), starts("b"), starts("c"))
	}

	// The first call starts its server, and says so.
	res := c.result("tools/call", map[string]any{
		"name": "a.echo", "arguments": map[string]any{"message": "woken"},
		"_meta": map[string]any{"progressToken": "tok-1"},
	})
	if got := decodeResult(t, res).text(); got != "woken" {
		t.Fatalf("a.echo: %q", got)
	}
	progress := c.notifications("notifications/progress")
	if len(progress) != 1 || !strings.Contains(string(progress[0]), `"progressToken":"tok-1"`) || !strings.Contains(string(progress[0]), `starting server \"a\"`) {
		t.Fatalf("progress of the first call: %s", progress)
	}
	if !c.waitNotification("notifications/tools/list_changed", 15*time.Second) {
		t.Fatal("no tools/list_changed when a's real list arrived")
	}
	if names := c.toolNames(); !slices.Contains(names, "a.add") {
		t.Fatalf("list after a started: %v", names)
	}
	// A second call finds a running: no progress of starting.
	c.result("tools/call", map[string]any{
		"name": "a.echo", "arguments": map[string]any{"message": "again"},
		"_meta": map[string]any{"progressToken": "tok-2"},
	})
	if n := len(c.notifications("notifications/progress")); n != 1 {
		t.Fatalf("a running server was announced as starting (%d progress notifications)", n)
	}
	if st := serverStates(t, c); st["a"] != "ok" || st["b"] != "not_started" {
		t.Fatalf("states after a's call: %v", st)
	}
	if starts("a") != 2 || starts("b") != 1 {
		t.Fatalf("one call started a %d times and b %d times (want 2 and 1)", starts("a"), starts("b"))
	}
	// A prompt get is a use too.
	c.result("prompts/get", map[string]any{"name": "b.greet", "arguments": map[string]any{"who": "b"}})
	if n := waitStarts(starts, "b", 2); n != 2 {
		t.Fatalf("prompts/get started b %d times", n-1)
	}
	// So is proxy.list_tools naming it.
	if r := decodeResult(t, c.callTool("proxy.list_tools", map[string]any{"server": "c"})); r.IsError || !strings.Contains(string(r.StructuredContent), `"add"`) {
		t.Fatalf("proxy.list_tools for c: %+v", r)
	}
	if n := starts("c"); n != 2 {
		t.Fatalf("proxy.list_tools started c %d times", n-1)
	}
	stopProxy(c)

	// The CLI's commands report on the servers as they are: they start.
	if out, err := e.command("servers").CombinedOutput(); err != nil || starts("a") != 3 || starts("b") != 3 || starts("c") != 3 {
		t.Fatalf("servers: %v (a %d, b %d, c %d)\n%s", err, starts("a"), starts("b"), starts("c"), out)
	}
}

// ICA_MCP_PROXY_START=eager starts every server with the proxy, as does
// "start": "eager" in one server's entry.
func TestEagerStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	starts := lazyServers(t, e, []string{"a", "b"}, map[string]map[string]any{"b": {"start": "eager"}})
	c := startProxy(t, e)
	c.toolNames()
	stopProxy(c)
	if starts("a") != 1 || starts("b") != 1 {
		t.Fatalf("cold start: a %d, b %d", starts("a"), starts("b"))
	}

	c = startProxy(t, e)
	c.toolNames()
	if n := waitStarts(starts, "b", 2); n != 2 {
		t.Fatalf(`"start": "eager" did not start b (%d starts)`, n)
	}
	time.Sleep(500 * time.Millisecond)
	if n := starts("a"); n != 1 {
		t.Fatalf("a, lazy, started without a call (%d starts)", n)
	}
	stopProxy(c)

	e.set("ICA_MCP_PROXY_START=eager")
	c = startProxy(t, e)
	c.toolNames()
	if n := waitStarts(starts, "a", 2); n != 2 {
		t.Fatalf("ICA_MCP_PROXY_START=eager did not start a (%d starts)", n)
	}
	stopProxy(c)
}
