package e2e

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// everythingRemote runs server-everything in mode ("streamableHttp" or
// "sse") on a free loopback port and returns its base URL. It binds every
// interface; the tests only ever talk to 127.0.0.1.
func everythingRemote(t *testing.T, mode string) string {
	t.Helper()
	needPeers(t)
	script := filepath.Join(peersDir, "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js")
	return startListener(t, "server-everything "+mode, exec.Command("node", script, mode))
}

// startListener runs cmd with PORT set to a free loopback port, in its own
// process group killed when the test ends, and returns its base URL once it
// accepts connections (within 15s). label names it in failures.
func startListener(t *testing.T, label string, cmd *exec.Cmd) string {
	t.Helper()
	port := freePort(t)
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "PORT="+port)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	startTree(t, cmd, func() {
		if t.Failed() {
			t.Logf("%s output:\n%s", label, out.String())
		}
	})
	addr := "127.0.0.1:" + port
	for range 300 {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			_ = c.Close()
			return "http://" + addr
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not listen on %s within 15s:\n%s", label, addr, out.String())
	return ""
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// waitTool waits until tools/list has name; upstreams register some tools
// only after initialize, and say so with list_changed.
func waitTool(t *testing.T, c *rpc, name string) {
	t.Helper()
	for range 100 {
		if slices.Contains(c.toolNames(), name) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never appeared in tools/list: %v", name, c.toolNames())
}

// Both remote transports against the reference server: streamable HTTP
// named by type, and an SSE server found by falling back from a bare url.
func TestRemoteServerEverything(t *testing.T) {
	t.Parallel()
	repeated(t, testRemoteServerEverything, onStreams)
}

func testRemoteServerEverything(t *testing.T) {
	web := everythingRemote(t, "streamableHttp")
	old := everythingRemote(t, "sse")
	e := newEnv(t)
	e.writeProject(t, map[string]any{
		"web": map[string]any{"type": "streamable-http", "url": web + "/mcp"},
		"old": map[string]any{"url": old + "/sse"},
	})
	// What each server offers is learnt when it first connects and kept in
	// $ICA_HOME; a server never seen is waited for only a second at
	// initialize, which a loaded machine can miss. Meet both first.
	if out, err := e.command("servers").CombinedOutput(); err != nil {
		t.Fatalf("servers: %v\n%s", err, out)
	}
	c := startRPC(t, e.command())
	c.onRequest("sampling/createMessage", func(params json.RawMessage) string {
		return `{"role":"assistant","content":{"type":"text","text":"a sampled answer"},"model":"e2e-model","stopReason":"endTurn"}`
	})
	c.onRequest("roots/list", func(json.RawMessage) string {
		return `{"roots":[{"uri":"file:///e2e/root","name":"e2e"}]}`
	})
	init := c.initializeWith(map[string]any{"sampling": map[string]any{}, "roots": map[string]any{"listChanged": true}})

	// The proxy declares resources and prompts: the upstreams offer them.
	var ir struct {
		Capabilities map[string]json.RawMessage `json:"capabilities"`
	}
	if err := json.Unmarshal(init, &ir); err != nil || ir.Capabilities["resources"] == nil || ir.Capabilities["prompts"] == nil || ir.Capabilities["completions"] == nil {
		t.Fatalf("initialize should declare resources, prompts and completions: %s", init)
	}

	for _, server := range []string{"web", "old"} {
		t.Run(server, func(t *testing.T) {
			if got := decodeResult(t, c.callTool(server+".echo", map[string]any{"message": "over " + server})).text(); got != "Echo: over "+server {
				t.Fatalf("echo: %q", got)
			}
			var sum struct {
				StructuredContent map[string]any `json:"structuredContent"`
			}
			if err := json.Unmarshal(c.callTool(server+".get-structured-content", map[string]any{"location": "Chicago"}), &sum); err != nil || sum.StructuredContent["temperature"] == nil {
				t.Fatalf("structured content lost: %+v", sum)
			}

			// Progress of a long operation reaches the client.
			before := len(c.notifications("notifications/progress"))
			raw := c.result("tools/call", map[string]any{
				"name": server + ".trigger-long-running-operation", "arguments": map[string]any{"duration": 1, "steps": 3},
				"_meta": map[string]any{"progressToken": "tok-" + server},
			})
			if r := decodeResult(t, raw); !strings.Contains(r.text(), "completed") {
				t.Fatalf("long operation: %s", raw)
			}
			var mine int
			for _, n := range c.notifications("notifications/progress")[before:] {
				if strings.Contains(string(n), `"tok-`+server+`"`) {
					mine++
				}
			}
			if mine < 3 {
				t.Fatalf("got %d progress notifications for %s, want 3", mine, server)
			}

			// The upstream's sampling request reaches the client, and the
			// client's answer reaches the upstream.
			waitTool(t, c, server+".trigger-sampling-request")
			raw = c.callTool(server+".trigger-sampling-request", map[string]any{"prompt": "hello", "maxTokens": 5})
			if r := decodeResult(t, raw); r.IsError || !strings.Contains(r.text(), "a sampled answer") {
				t.Fatalf("sampling answer did not make it back: %s", raw)
			}
			// And so do roots.
			waitTool(t, c, server+".get-roots-list")
			raw = c.callTool(server+".get-roots-list", map[string]any{})
			if r := decodeResult(t, raw); !strings.Contains(r.text(), "file:///e2e/root") {
				t.Fatalf("roots did not make it to the upstream: %s", raw)
			}
		})
	}
	if n := len(c.requestsReceived("sampling/createMessage")); n != 2 {
		t.Fatalf("the client saw %d sampling requests, want 2", n)
	}
	for _, m := range c.requestsReceived("sampling/createMessage") {
		if !strings.Contains(string(m), `"id":"ica-`) {
			t.Fatalf("relayed request should carry the proxy's own id: %s", m)
		}
	}

	// Resources, templates and prompts, named by server, read through the
	// proxy.
	var resources struct {
		Resources []struct {
			URI  string `json:"uri"`
			Name string `json:"name"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(c.result("resources/list", map[string]any{}), &resources); err != nil || len(resources.Resources) == 0 {
		t.Fatalf("resources/list: %+v %v", resources, err)
	}
	first := resources.Resources[0]
	if !strings.HasPrefix(first.Name, "old.") && !strings.HasPrefix(first.Name, "web.") {
		t.Fatalf("resource names should be namespaced by server: %+v", first)
	}
	var read struct {
		Contents []struct {
			URI string `json:"uri"`
		} `json:"contents"`
	}
	if err := json.Unmarshal(c.result("resources/read", map[string]any{"uri": first.URI}), &read); err != nil || len(read.Contents) == 0 || read.Contents[0].URI != first.URI {
		t.Fatalf("resources/read %s: %+v", first.URI, read)
	}
	// A URI no list names goes by template.
	if !strings.Contains(string(c.result("resources/templates/list", map[string]any{})), "demo://resource/dynamic/text/{resourceId}") {
		t.Fatal("templates not mirrored")
	}
	if err := json.Unmarshal(c.result("resources/read", map[string]any{"uri": "demo://resource/dynamic/text/3"}), &read); err != nil || len(read.Contents) == 0 {
		t.Fatalf("templated read: %+v", read)
	}
	// Log messages (named after their server) and updates of a subscribed
	// resource are relayed.
	var owned string
	for _, r := range resources.Resources {
		if strings.HasPrefix(r.Name, "old.") {
			owned = r.URI
			break
		}
	}
	if owned == "" {
		t.Fatalf("no resource kept by old: %+v", resources.Resources)
	}
	c.callTool("old.toggle-simulated-logging", map[string]any{})
	waitNote(t, c, "notifications/message", `"logger":"old"`)
	c.result("resources/subscribe", map[string]any{"uri": owned})
	c.callTool("old.toggle-subscriber-updates", map[string]any{})
	waitNote(t, c, "notifications/resources/updated", owned)

	var prompts struct {
		Prompts []struct {
			Name string `json:"name"`
		} `json:"prompts"`
	}
	if err := json.Unmarshal(c.result("prompts/list", map[string]any{}), &prompts); err != nil {
		t.Fatal(err)
	}
	var pnames []string
	for _, p := range prompts.Prompts {
		pnames = append(pnames, p.Name)
	}
	if !slices.Contains(pnames, "web.simple-prompt") || !slices.Contains(pnames, "old.args-prompt") {
		t.Fatalf("prompts: %v", pnames)
	}
	got := c.result("prompts/get", map[string]any{"name": "old.args-prompt", "arguments": map[string]any{"city": "Lyon"}})
	if !strings.Contains(string(got), "Lyon") {
		t.Fatalf("prompts/get: %s", got)
	}
	// Completion of a prompt argument goes to the prompt's server.
	got = c.result("completion/complete", map[string]any{
		"ref":      map[string]any{"type": "ref/prompt", "name": "web.completable-prompt"},
		"argument": map[string]any{"name": "department", "value": "Eng"},
	})
	if !strings.Contains(string(got), "Engineering") {
		t.Fatalf("completion/complete: %s", got)
	}

	// list_servers names the transport each server speaks; the probe's
	// answer is remembered for the next start.
	var servers struct {
		Servers []struct {
			Name      string `json:"name"`
			Transport string `json:"transport"`
			State     string `json:"state"`
		} `json:"servers"`
	}
	sc := decodeResult(t, c.callTool("proxy.list_servers", map[string]any{})).StructuredContent
	if err := json.Unmarshal(sc, &servers); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"web": "http", "old": "sse"}
	for _, s := range servers.Servers {
		if s.Transport != want[s.Name] || s.State != "ok" {
			t.Errorf("%s: transport %q state %q, want %q ok", s.Name, s.Transport, s.State, want[s.Name])
		}
	}
	memo, err := os.ReadFile(filepath.Join(e.home, "mcp-upstreams.json"))
	if err != nil || !strings.Contains(string(memo), old+"/sse") {
		t.Fatalf("the fallback was not remembered: %v\n%s", err, memo)
	}
	if bad := c.nonJSON(); len(bad) > 0 {
		t.Fatalf("non-JSON on the proxy's stdout: %q", bad)
	}
}

// The Inspector CLI, a real client, lists and calls a remote upstream's
// tools through the proxy.
func TestInspectorCLIRemoteUpstream(t *testing.T) {
	t.Parallel()
	web := everythingRemote(t, "streamableHttp")
	e := newEnv(t)
	e.writeProject(t, map[string]any{"web": map[string]any{"url": web + "/mcp"}})
	names := inspectorToolNames(t, e)
	if !slices.Contains(names, "web.echo") || !slices.Contains(names, "web.get-sum") {
		t.Fatalf("the Inspector's tools/list lacks the remote tools: %v", names)
	}
	out := inspector(t, e, "--method", "tools/call", "--tool-name", "web.get-sum", "--tool-arg", "a=19", "--tool-arg", "b=23")
	if !strings.Contains(string(out), "42") {
		t.Fatalf("tools/call web.get-sum: %s", out)
	}
}

// waitNote waits until a notification with method containing substr came.
func waitNote(t *testing.T, c *rpc, method, substr string) {
	t.Helper()
	for range 150 {
		for _, n := range c.notifications(method) {
			if strings.Contains(string(n), substr) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no %s with %s within 15s; got %q", method, substr, c.notifications(method))
}

// The upstream's own requests are relayed over stdio too: server-everything
// as a child process asks the client to sample.
func TestSamplingRelayedOverStdio(t *testing.T) {
	t.Parallel()
	needPeers(t)
	e := newEnv(t)
	e.writeProject(t, map[string]any{"everything": everythingServer()})
	c := startRPC(t, e.command())
	c.onRequest("sampling/createMessage", func(json.RawMessage) string {
		return `{"role":"assistant","content":{"type":"text","text":"sampled over stdio"},"model":"e2e-model","stopReason":"endTurn"}`
	})
	c.initializeWith(map[string]any{"sampling": map[string]any{}})
	waitTool(t, c, "everything.trigger-sampling-request")
	raw := c.callTool("everything.trigger-sampling-request", map[string]any{"prompt": "hi", "maxTokens": 5})
	if r := decodeResult(t, raw); r.IsError || !strings.Contains(r.text(), "sampled over stdio") {
		t.Fatalf("sampling over stdio: %s", raw)
	}
}
