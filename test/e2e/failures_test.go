package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFailingUpstreamsBesideAWorkingOne(t *testing.T) {
	t.Parallel()
	repeated(t, testFailingUpstreamsBesideAWorkingOne, onStreams, parentWatch)
}

func testFailingUpstreamsBesideAWorkingOne(t *testing.T) {
	e := newEnv(t)
	e.writeProject(t, map[string]any{
		"demo":    demoServer(),
		"missing": map[string]any{"command": "/nonexistent/server"},
		"crashy":  map[string]any{"command": "sh", "args": []string{"-c", "echo boom >&2; exit 3"}},
		"badargs": map[string]any{"command": "x", "args": "not-a-list"},
	})
	p := startProxy(t, e)
	got := mirrored(p.toolNames())
	if !slices.Equal(got, []string{"demo.add", "demo.echo", "demo.sleep"}) {
		t.Fatalf("tools/list = %v", got)
	}
	st := p.mirrorStatus()
	for server, want := range map[string][]string{
		"missing": {"/nonexistent/server"},
		"crashy":  {"exit code 3", "boom"},
		"badargs": {"config", `"args" must be an array of strings`},
	} {
		s := st.Servers[server]
		if s.State != "error" {
			t.Errorf("%s: state %q, want error", server, s.State)
		}
		for _, w := range want {
			if !strings.Contains(s.Error, w) {
				t.Errorf("%s: error %q does not say %q", server, s.Error, w)
			}
		}
	}
	if st.Servers["demo"].State != "ok" {
		t.Fatalf("demo: %+v", st.Servers["demo"])
	}
	if r := decodeResult(t, p.callTool("demo.echo", map[string]any{"message": "still here"})); r.text() != "still here" {
		t.Fatalf("demo.echo: %+v", r)
	}
	// A call to the broken server is an isError result naming the cause.
	r := decodeResult(t, p.callTool("proxy.call", map[string]any{"server": "crashy", "tool": "x"}))
	if !r.IsError || !strings.Contains(r.text(), "crashy") || !strings.Contains(r.text(), "exit code 3") {
		t.Fatalf("proxy.call to a crashing server: %+v", r)
	}
	r = decodeResult(t, p.callTool("proxy.call", map[string]any{"server": "nope", "tool": "x"}))
	if !r.IsError || !strings.Contains(r.text(), `unknown server "nope"`) {
		t.Fatalf("proxy.call to an unknown server: %+v", r)
	}
}

func TestBrokenConfigFileNamesLine(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if err := os.WriteFile(filepath.Join(e.project, ".mcp.json"), []byte("{\n  \"mcpServers\": {\n    \"x\": {\"command\": \"y\",}\n  }\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.writeHome(t, map[string]any{"demo": demoServer()})
	p := startProxy(t, e)
	if got := mirrored(p.toolNames()); !slices.Equal(got, []string{"demo.add", "demo.echo", "demo.sleep"}) {
		t.Fatalf("the home config must still work: %v", got)
	}
	st := p.mirrorStatus()
	if err := st.Sources[0].Error; !strings.Contains(err, ".mcp.json") || !strings.Contains(err, "line 3") {
		t.Fatalf("the error must name the file and line: %q", err)
	}
}

func TestConfigReloadSendsListChanged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeProject(t, map[string]any{"demo": demoServer()})
	p := startProxy(t, e)
	if got := mirrored(p.toolNames()); len(got) != 3 {
		t.Fatalf("tools/list = %v", got)
	}
	if n := p.notifications("notifications/tools/list_changed"); len(n) != 0 {
		t.Fatalf("list_changed before anything changed: %s", n)
	}
	e.writeProject(t, map[string]any{"demo": demoServer(), "other": demoServer()})
	if !p.waitNotification("notifications/tools/list_changed", 15*time.Second) {
		t.Fatal("no notifications/tools/list_changed after the config changed")
	}
	if got := mirrored(p.toolNames()); !slices.Contains(got, "other.echo") {
		t.Fatalf("after reload tools/list = %v", got)
	}
}

// A call to an upstream that does not answer gets an error at the request
// timeout, the upstream gets notifications/cancelled, and another upstream
// answers at once meanwhile and afterwards.
func TestRequestTimeoutCancelsUpstream(t *testing.T) {
	t.Parallel()
	repeated(t, testRequestTimeoutCancelsUpstream, onStreams, parentWatch)
}

func testRequestTimeoutCancelsUpstream(t *testing.T) {
	e := newEnv(t)
	e.writeProject(t, map[string]any{"demo": demoServer(), "other": demoServer()})
	e.set("ICA_MCP_PROXY_UPSTREAM_REQUEST_TIMEOUT_S=3")
	p := startProxy(t, e)
	p.toolNames()
	start := time.Now()
	silent := make(chan toolResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		msg, _, err := p.request(ctx, "tools/call", map[string]any{"name": "demo.sleep", "arguments": map[string]any{"ms": 10000}})
		var r struct {
			Result toolResult `json:"result"`
		}
		if err == nil {
			_ = json.Unmarshal(msg, &r)
		}
		silent <- r.Result
	}()
	time.Sleep(200 * time.Millisecond)
	if got := decodeResult(t, p.callTool("other.echo", map[string]any{"message": "meanwhile"})).text(); got != "meanwhile" {
		t.Fatalf("another upstream while one is silent: %q", got)
	}
	select {
	case <-silent:
		t.Fatal("the other upstream answered only after the silent call had ended")
	default:
	}
	r := <-silent
	took := time.Since(start)
	if !r.IsError || !strings.Contains(r.text(), "did not answer") || took > 8*time.Second {
		t.Fatalf("after %s: %+v", took, r)
	}
	waitStderr(t, p, "sleep cancelled", 5*time.Second)
	if r := decodeResult(t, p.callTool("demo.echo", map[string]any{"message": "next"})); r.text() != "next" {
		t.Fatalf("the call after a timeout: %+v", r)
	}
	if r := decodeResult(t, p.callTool("other.echo", map[string]any{"message": "after"})); r.text() != "after" {
		t.Fatalf("another upstream after a timeout: %+v", r)
	}
}

func TestClientCancellationReachesUpstream(t *testing.T) {
	t.Parallel()
	repeated(t, testClientCancellationReachesUpstream, onStreams, parentWatch)
}

func testClientCancellationReachesUpstream(t *testing.T) {
	e := newEnv(t)
	e.writeProject(t, map[string]any{"demo": demoServer()})
	p := startProxy(t, e)
	p.toolNames()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		_, _, _ = p.request(ctx, "tools/call", map[string]any{"name": "demo.sleep", "arguments": map[string]any{"ms": 30000}})
	}()
	// The only request waiting for an answer is the call.
	var id string
	for id == "" {
		p.mu.Lock()
		for k := range p.pending {
			id = k
		}
		p.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // let the call reach the upstream
	p.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":` + id + `,"reason":"user"}}`)
	waitStderr(t, p, "sleep cancelled", 5*time.Second)
	<-answered
	if ctx.Err() == nil {
		t.Fatal("the proxy answered a request the client cancelled")
	}
}

func waitStderr(t *testing.T, p *rpc, substr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(p.stderr.String(), substr) {
		if time.Now().After(deadline) {
			t.Fatalf("%q never appeared on stderr", substr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An upstream that exits at once is started again with growing pauses, at
// most five times a minute. A call that comes during a pause waits for it
// (its timeout leaves the time) and fails with the server's own failure;
// past the budget of starts, a call fails at once saying why, and
// mirror_status shows it. The other servers keep working throughout.
func TestCrashLoopBacksOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	starts := filepath.Join(t.TempDir(), "starts")
	e.writeProject(t, map[string]any{
		"demo":   demoServer(),
		"crashy": map[string]any{"command": "sh", "args": []string{"-c", "echo started >> " + starts + "; echo boom >&2; exit 3"}},
	})
	p := startProxy(t, e)
	count := func() int {
		data, _ := os.ReadFile(starts)
		return strings.Count(string(data), "started")
	}
	p.toolNames() // the first listing round starts crashy once
	if n := count(); n != 1 {
		t.Fatalf("the first listing started crashy %d times", n)
	}
	// Starts at about 0, 0 (a server that failed once is started again at
	// once), 1, 3 and 7 s; then the budget of five a minute is spent.
	began := time.Now()
	for i := 1; ; i++ {
		before := count()
		called := time.Now()
		r := decodeResult(t, p.callTool("proxy.call", map[string]any{"server": "crashy", "tool": "x"}))
		if !r.IsError || !strings.Contains(r.text(), "exit code 3") {
			t.Fatalf("call %d: %+v", i, r)
		}
		if strings.Contains(r.text(), "keeps failing") {
			if before != 5 || count() != 5 {
				t.Fatalf("call %d was refused after %d starts, not waiting for a pause", i, before)
			}
			if took := time.Since(called); took > 2*time.Second {
				t.Fatalf("past the budget, the call took %s to be refused", took)
			}
			break
		}
		if n := count(); n != before+1 {
			t.Fatalf("call %d started the server %d times", i, n-before)
		}
		if got := decodeResult(t, p.callTool("demo.echo", map[string]any{"message": "alive"})).text(); got != "alive" {
			t.Fatalf("demo.echo during the crash loop: %q", got)
		}
	}
	if took := time.Since(began); took < 6*time.Second {
		t.Fatalf("five starts in %s: the pauses were skipped", took)
	}
	st := p.mirrorStatus().Servers["crashy"]
	if st.State != "error" || !strings.Contains(st.Error, "keeps failing") {
		t.Fatalf("mirror_status for crashy: %+v", st)
	}
}
