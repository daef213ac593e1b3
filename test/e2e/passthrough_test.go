package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// directEverything runs server-everything directly, for comparison.
func directEverything(t *testing.T) *rpc {
	s := everythingServer()
	c := startRPC(t, exec.Command(s["command"].(string), s["args"].([]string)...))
	c.initialize()
	return c
}

func TestMirrorsServerEverythingFaithfully(t *testing.T) {
	t.Parallel()
	needPeers(t)
	e := newEnv(t)
	e.writeProject(t, map[string]any{"everything": everythingServer()})
	p := startProxy(t, e)
	direct := directEverything(t)

	var proxied, upstream struct {
		Tools []map[string]json.RawMessage `json:"tools"`
	}
	if err := json.Unmarshal(p.result("tools/list", map[string]any{}), &proxied); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(direct.result("tools/list", map[string]any{}), &upstream); err != nil {
		t.Fatal(err)
	}
	byName := map[string]map[string]json.RawMessage{}
	var names []string
	for _, tool := range proxied.Tools {
		var n string
		_ = json.Unmarshal(tool["name"], &n)
		byName[n] = tool
		names = append(names, n)
	}
	for _, want := range []string{"proxy.list_servers", "proxy.list_tools", "proxy.call", "proxy.mirror_status"} {
		if !slices.Contains(names, want) {
			t.Errorf("broker tool %s missing from %v", want, names)
		}
	}
	if len(upstream.Tools) < 10 {
		t.Fatalf("server-everything lists only %d tools", len(upstream.Tools))
	}
	for _, ut := range upstream.Tools {
		var n string
		_ = json.Unmarshal(ut["name"], &n)
		pt, ok := byName["everything."+n]
		if !ok {
			t.Errorf("everything.%s not mirrored", n)
			continue
		}
		// Every member but the name is the upstream's own bytes:
		// descriptions, schemas ($schema included), annotations, all.
		for k, v := range ut {
			if k == "name" {
				continue
			}
			if string(pt[k]) != string(v) {
				t.Errorf("everything.%s: %s differs:\n proxied  %s\n upstream %s", n, k, pt[k], v)
			}
		}
		if len(pt) != len(ut) {
			t.Errorf("everything.%s: %d members, upstream has %d", n, len(pt), len(ut))
		}
	}
}

func TestResultsAreIdenticalToDirect(t *testing.T) {
	t.Parallel()
	repeated(t, testResultsAreIdenticalToDirect, onStreams)
}

func testResultsAreIdenticalToDirect(t *testing.T) {
	needPeers(t)
	e := newEnv(t)
	e.writeProject(t, map[string]any{"everything": everythingServer()})
	p := startProxy(t, e)
	direct := directEverything(t)

	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{"echo", map[string]any{"message": "héllo \u2603 \"quoted\""}},
		{"get-structured-content", map[string]any{"location": "Chicago"}},
		{"get-tiny-image", map[string]any{}},
		{"get-resource-links", map[string]any{"count": 2}},
		{"get-annotated-message", map[string]any{"messageType": "success", "includeImage": true}},
	} {
		got := p.callTool("everything."+tc.tool, tc.args)
		want := direct.callTool(tc.tool, tc.args)
		if string(got) != string(want) {
			t.Errorf("%s: proxied result differs from direct:\n proxied %.300s\n direct  %.300s", tc.tool, got, want)
		}
	}
	// The same through proxy.call.
	got := p.callTool("proxy.call", map[string]any{"server": "everything", "tool": "get-structured-content", "args": map[string]any{"location": "Chicago"}})
	want := direct.callTool("get-structured-content", map[string]any{"location": "Chicago"})
	if string(got) != string(want) {
		t.Errorf("proxy.call result differs from direct:\n %s\n %s", got, want)
	}
	if bad := p.nonJSON(); len(bad) > 0 {
		t.Errorf("the proxy's stdout carried non-JSON-RPC lines: %q", bad)
	}
}

func TestProgressPassesThrough(t *testing.T) {
	t.Parallel()
	repeated(t, testProgressPassesThrough, onStreams)
}

func testProgressPassesThrough(t *testing.T) {
	needPeers(t)
	e := newEnv(t)
	e.writeProject(t, map[string]any{"everything": everythingServer()})
	p := startProxy(t, e)
	res := p.result("tools/call", map[string]any{
		"name":      "everything.trigger-long-running-operation",
		"arguments": map[string]any{"duration": 1, "steps": 4},
		"_meta":     map[string]any{"progressToken": "tok-42"},
	})
	if r := decodeResult(t, res); r.IsError {
		t.Fatalf("long-running operation failed: %s", res)
	}
	var seen int
	for _, n := range p.notifications("notifications/progress") {
		if strings.Contains(string(n), `"progressToken":"tok-42"`) {
			seen++
		}
	}
	if seen < 4 {
		t.Fatalf("want 4 progress notifications with the caller's token, got %d: %s", seen, p.notifications("notifications/progress"))
	}
}

func TestConcurrentCallsShareOneUpstream(t *testing.T) {
	t.Parallel()
	needPeers(t)
	e := newEnv(t)
	e.writeProject(t, map[string]any{"everything": everythingServer()})
	p := startProxy(t, e)
	p.callTool("everything.echo", map[string]any{"message": "warm"})

	const n = 200
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			msg := fmt.Sprintf("call-%d", i)
			raw, _, err := p.request(ctx, "tools/call", map[string]any{"name": "everything.echo", "arguments": map[string]any{"message": msg}})
			if err != nil {
				errs <- err
				return
			}
			var r struct {
				Result toolResult `json:"result"`
			}
			if err := json.Unmarshal(raw, &r); err != nil || r.Result.text() != "Echo: "+msg {
				errs <- fmt.Errorf("call %d: got %s", i, raw)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var nodes int
	for _, d := range descendants(p.cmd.Process.Pid) {
		if d.comm == "node" {
			nodes++
		}
	}
	if nodes != 1 {
		t.Fatalf("want the 200 calls served by one upstream process, found %d node processes", nodes)
	}
}

func TestUpstreamKilledMidCall(t *testing.T) {
	t.Parallel()
	repeated(t, testUpstreamKilledMidCall, onStreams, parentWatch)
}

func testUpstreamKilledMidCall(t *testing.T) {
	needPeers(t)
	e := newEnv(t)
	e.writeProject(t, map[string]any{"everything": everythingServer()})
	p := startProxy(t, e)
	p.callTool("everything.echo", map[string]any{"message": "warm"})
	ds := waitDescendants(t, p.cmd.Process.Pid, "node")

	type outcome struct {
		raw json.RawMessage
		err error
		at  time.Time
	}
	done := make(chan outcome, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		raw, _, err := p.request(ctx, "tools/call", map[string]any{
			"name": "everything.trigger-long-running-operation", "arguments": map[string]any{"duration": 20, "steps": 20},
		})
		done <- outcome{raw, err, time.Now()}
	}()
	time.Sleep(500 * time.Millisecond) // the call is in flight
	var killed time.Time
	for _, d := range ds {
		if d.comm == "node" {
			killProcess(t, d.pid)
			killed = time.Now()
		}
	}
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	if took := o.at.Sub(killed); took > 2*time.Second {
		t.Fatalf("the in-flight call failed %s after the upstream died; want under 2s", took)
	}
	var r struct {
		Result toolResult `json:"result"`
	}
	_ = json.Unmarshal(o.raw, &r)
	if !r.Result.IsError || !strings.Contains(r.Result.text(), `"everything"`) || !strings.Contains(r.Result.text(), "killed") {
		t.Fatalf("want an isError result naming the server and how it ended, got %s", o.raw)
	}
	// The next call starts the upstream again.
	if got := decodeResult(t, p.callTool("everything.echo", map[string]any{"message": "again"})).text(); got != "Echo: again" {
		t.Fatalf("the call after the crash got %q", got)
	}
}
