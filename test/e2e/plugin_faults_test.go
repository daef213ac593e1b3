package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/pluginhost"
)

// pluginPID finds the running plugin whose process name (cut to 15
// characters by the kernel) is comm.
func pluginPID(t *testing.T, proxy int, comm string) int {
	t.Helper()
	for _, d := range waitDescendants(t, proxy, comm) {
		if d.comm == comm {
			return d.pid
		}
	}
	t.Fatalf("no %s process", comm)
	return 0
}

// servedByFreshPlugin calls demo.echo until a fresh stdio plugin (not
// the dead one) runs and the call works, within 10 s. A call made before
// the core has heard of the plugin's death fails naming it; on the direct
// data path the upstream, which the core still talks to, may even answer
// until its plugin's death ends it.
func servedByFreshPlugin(t *testing.T, c *rpc, dead int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := decodeResult(t, c.callTool("demo.echo", map[string]any{"message": "after"}))
		if !r.IsError && r.text() == "after" {
			for _, d := range descendants(c.cmd.Process.Pid) {
				if d.comm == "ica-plugin-tran" && d.pid != dead {
					return
				}
			}
		} else if !strings.Contains(r.text(), "ica-plugin-transport-stdio") {
			t.Fatalf("after the plugin crashed: %+v", r)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no fresh plugin process serves after 10 s (the dead one: %d)", dead)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// callFails makes a call that is to fail, and returns how it failed: the
// text of an isError result, or a JSON-RPC error; "" when it succeeded.
func (c *rpc) callFails(name string, args any) string {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	msg, _, err := c.request(ctx, "tools/call", map[string]any{"name": name, "arguments": args})
	if err != nil {
		return err.Error()
	}
	if e := gjson.GetBytes(msg, "error"); e.Exists() {
		return "JSON-RPC error " + e.Raw
	}
	if !gjson.GetBytes(msg, "result.isError").Bool() {
		return ""
	}
	return gjson.GetBytes(msg, "result.content.0.text").Str
}

// A transport plugin killed in the middle of a call: the call fails within
// 2 s, and the next calls start a fresh plugin. On the stream data path the
// failure names the plugin. On the direct path the upstream, which its
// plugin's death terminates (SIGTERM), may answer the call itself before
// the core hears of the plugin (the Go demo answers "context canceled"):
// the core reads the upstream's output directly, and passes that answer
// on as a relay would.
func TestTransportPluginKilledMidCall(t *testing.T) {
	t.Parallel()
	repeated(t, testTransportPluginKilledMidCall, onStreams, parentWatch)
}

func testTransportPluginKilledMidCall(t *testing.T) {
	e := newEnv(t)
	e.writeProject(t, map[string]any{"demo": demoServer()})
	c := startProxy(t, e)
	c.toolNames()
	plugin := pluginPID(t, c.cmd.Process.Pid, "ica-plugin-tran")

	type answer struct {
		failure string
		at      time.Time
	}
	got := make(chan answer, 1)
	go func() {
		f := c.callFails("demo.sleep", map[string]any{"ms": 30000})
		got <- answer{f, time.Now()}
	}()
	time.Sleep(300 * time.Millisecond) // the call reaches the upstream
	killed := time.Now()
	killProcess(t, plugin)
	select {
	case a := <-got:
		if took := a.at.Sub(killed); took > 2*time.Second {
			t.Fatalf("the call failed %s after the plugin was killed", took)
		}
		stream := onStreamPath(t)
		if a.failure == "" || (stream && !strings.Contains(a.failure, "ica-plugin-transport-stdio")) {
			t.Fatalf("the call in flight: %q", a.failure)
		}
		t.Logf("the call in flight failed: %s", a.failure)
	case <-time.After(10 * time.Second):
		t.Fatal("the call in flight never failed")
	}
	servedByFreshPlugin(t, c, plugin)
}

// The upstream killed mid-call, then its transport plugin killed mid-call,
// three times over: each next call, half a second later, works. Neither
// failure makes the upstream a failing server: the upstream died once
// (it is started again at once), and the plugin's crashes are the plugin
// host's to pause for, which a call waits out.
func TestRestartsAfterKills(t *testing.T) {
	t.Parallel()
	repeated(t, testRestartsAfterKills, onStreams, parentWatch)
}

func testRestartsAfterKills(t *testing.T) {
	e := newEnv(t)
	e.writeProject(t, map[string]any{"demo": demoServer()})
	c := startProxy(t, e)
	c.toolNames()
	proxy := c.cmd.Process.Pid
	midCall := func(kill func()) {
		t.Helper()
		failed := make(chan string, 1)
		go func() { failed <- c.callFails("demo.sleep", map[string]any{"ms": 30000}) }()
		time.Sleep(300 * time.Millisecond) // the call reaches the upstream
		kill()
		select {
		case f := <-failed:
			if f == "" {
				t.Fatal("the call in flight succeeded")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the call in flight never failed")
		}
		time.Sleep(500 * time.Millisecond)
		if r := decodeResult(t, c.callTool("demo.echo", map[string]any{"message": "again"})); r.text() != "again" {
			t.Fatalf("the next call: %+v", r)
		}
	}
	midCall(func() { killProcess(t, pluginPID(t, proxy, "ica-demo-upstre")) })
	for range 3 {
		midCall(func() { killProcess(t, pluginPID(t, proxy, "ica-plugin-tran")) })
	}
	if st := c.mirrorStatus().Servers["demo"]; st.State != "ok" {
		t.Fatalf("mirror_status for demo: %+v", st)
	}
}

// A plugin that hangs at start is given up after the start timeout and
// killed; the call fails naming it, and the other servers work.
func TestPluginHangingAtStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hang := filepath.Join(e.home, "plugins", "ica-plugin-transport-hang")
	writeFile(t, hang, "#!/bin/sh\nexec sleep 60\n", 0o700)
	sum, err := pluginhost.FileSHA256(hang)
	if err != nil {
		t.Fatal(err)
	}
	if err := pluginhost.NewIntegrity(filepath.Join(e.home, "plugins"), filepath.Join(e.home, pluginhost.LockFileName)).Record(filepath.Base(hang), sum); err != nil {
		t.Fatal(err)
	}
	e.set("ICA_MCP_PROXY_PLUGIN_START_TIMEOUT_S=1")
	e.writeProject(t, map[string]any{"stuck": map[string]any{"type": "hang", "url": "https://stuck.example/mcp"}, "demo": demoServer()})
	c := startProxy(t, e)
	start := time.Now()
	r := decodeResult(t, c.callTool("proxy.call", map[string]any{"server": "stuck", "tool": "x"}))
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the call failed after %s", took)
	}
	if !r.IsError || !strings.Contains(r.text(), "ica-plugin-transport-hang") {
		t.Fatalf("a call through the hanging plugin: %+v", r)
	}
	if got := decodeResult(t, c.callTool("demo.echo", map[string]any{"message": "ok"})).text(); got != "ok" {
		t.Fatalf("demo.echo: %q", got)
	}
	// Killed: no sleep left under the proxy.
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := false
		for _, d := range descendants(c.cmd.Process.Pid) {
			if d.comm == "sleep" {
				left = true
			}
		}
		if !left {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the hanging plugin was not killed")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// An auth plugin killed while a login waits for the user: the login ends
// in an error naming the plugin within 2 s, and a new login starts a fresh
// plugin.
//
// Not in parallel: under load the login's failure (the plugin's stream
// broke) is seen tens of milliseconds before go-plugin has reaped the
// process, and a login started in that window goes to the dead client
// (noted in issue 26's closing note, not fixed yet).
func TestAuthPluginKilledMidLogin(t *testing.T) {
	site := newProtectedSite(t)
	e := newEnv(t)
	e.writeProject(t, map[string]any{"locked": map[string]any{"url": site.srv.URL + "/mcp",
		"oauth": map[string]any{"flow": "pkce", "options": map[string]any{"open_browser": false}}}})
	c := startProxy(t, e)
	started := decodeResult(t, c.callTool("proxy.auth_start", map[string]any{"server": "locked"}))
	if started.IsError || !strings.Contains(string(started.StructuredContent), "/authorize") {
		t.Fatalf("auth_start: %s", started.StructuredContent)
	}
	plugin := pluginPID(t, c.cmd.Process.Pid, "ica-plugin-auth")
	killed := time.Now()
	killProcess(t, plugin)
	for {
		st := string(decodeResult(t, c.callTool("proxy.auth_status", map[string]any{"server": "locked"})).StructuredContent)
		if strings.Contains(st, `"state":"error"`) {
			if !strings.Contains(st, "ica-plugin-auth-pkce") {
				t.Fatalf("the error does not name the plugin: %s", st)
			}
			break
		}
		if time.Since(killed) > 2*time.Second {
			t.Fatalf("2 s after the plugin was killed: %s", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	again := decodeResult(t, c.callTool("proxy.auth_start", map[string]any{"server": "locked"}))
	if again.IsError || !strings.Contains(string(again.StructuredContent), "/authorize") {
		t.Fatalf("auth_start after the crash: %s", again.StructuredContent)
	}
	if pluginPID(t, c.cmd.Process.Pid, "ica-plugin-auth") == plugin {
		t.Fatal("no fresh auth plugin")
	}
}
