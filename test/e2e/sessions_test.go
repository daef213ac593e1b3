package e2e

import (
	"encoding/json"
	"testing"
	"time"
)

type serverList struct {
	Servers []struct {
		Name    string `json:"name"`
		State   string `json:"state"`
		Running bool   `json:"running"`
		Starts  int    `json:"starts"`
	} `json:"servers"`
}

func (c *rpc) server(name string) (state string, running bool, starts int) {
	c.t.Helper()
	var l serverList
	if err := json.Unmarshal(decodeResult(c.t, c.callTool("proxy.list_servers", map[string]any{})).StructuredContent, &l); err != nil {
		c.t.Fatal(err)
	}
	for _, s := range l.Servers {
		if s.Name == name {
			return s.State, s.Running, s.Starts
		}
	}
	c.t.Fatalf("server %s not listed", name)
	return "", false, 0
}

func TestPluginCrashIsRestartedOnNextUse(t *testing.T) {
	t.Parallel()
	repeated(t, testPluginCrashIsRestartedOnNextUse, onStreams, parentWatch)
}

func testPluginCrashIsRestartedOnNextUse(t *testing.T) {
	e := newEnv(t)
	e.writeProject(t, map[string]any{"demo": demoServer()})
	p := startProxy(t, e)
	p.callTool("demo.echo", map[string]any{"message": "warm"})
	var plugin int
	for _, d := range waitDescendants(t, p.cmd.Process.Pid, "ica-plugin-tran") {
		if d.comm == "ica-plugin-tran" {
			plugin = d.pid
		}
	}
	killProcess(t, plugin)
	waitGone(t, []proc{{pid: plugin}}, 5*time.Second)
	servedByFreshPlugin(t, p, plugin)
}

func TestPoolingDisabledOpensASessionPerCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeProject(t, map[string]any{"demo": demoServer()})
	e.set("ICA_MCP_PROXY_DISABLE_POOLING=1")
	p := startProxy(t, e)
	p.toolNames()
	_, _, before := p.server("demo")
	for i := range 3 {
		if r := decodeResult(t, p.callTool("demo.echo", map[string]any{"message": itoa(i)})); r.text() != itoa(i) {
			t.Fatalf("call %d: %+v", i, r)
		}
	}
	_, running, after := p.server("demo")
	if after-before != 3 || running {
		t.Fatalf("want one session per call and none kept: %d sessions for 3 calls, running=%v", after-before, running)
	}
}

func TestIdleSessionIsClosedAndReopened(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeProject(t, map[string]any{"demo": demoServer()})
	e.set("ICA_MCP_PROXY_UPSTREAM_IDLE_TTL_S=0.5")
	p := startProxy(t, e)
	p.callTool("demo.echo", map[string]any{"message": "one"})
	ps := waitDescendants(t, p.cmd.Process.Pid, "ica-demo-upstre")
	var upstream []proc
	for _, d := range ps {
		if d.comm == "ica-demo-upstre" {
			upstream = append(upstream, d)
		}
	}
	waitGone(t, upstream, 5*time.Second) // closed after half a second idle
	if _, running, _ := p.server("demo"); running {
		t.Fatal("list_servers still shows a session after the idle close")
	}
	if r := decodeResult(t, p.callTool("demo.echo", map[string]any{"message": "two"})); r.text() != "two" {
		t.Fatalf("after the idle close: %+v", r)
	}
}
