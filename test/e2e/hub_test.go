package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestHubServesFronts (ICA_MCP_PROXY_HUB=on, in development): the first
// front starts the hub of its $ICA_HOME, detached; a second front's
// session goes to the same hub; each is served as its own proxy would
// be; with no session left, the hub lingers, then stops, and its
// upstreams go with it.
func TestHubServesFronts(t *testing.T) {
	t.Parallel()
	e := hubEnv(t)
	first := startProxy(t, e)
	if got := decodeResult(t, first.callTool("demo.echo", map[string]any{"message": "one"})).text(); got != "one" {
		t.Fatalf("the first front's call: %q", got)
	}
	pids, _ := filepath.Glob(filepath.Join(e.home, "run", "hub-*.pid"))
	if len(pids) != 1 {
		t.Fatalf("hub pid files: %v\nfront's stderr: %s", pids, first.stderr.String())
	}
	data, err := os.ReadFile(pids[0])
	if err != nil {
		t.Fatalf("no hub: %v\nfront's stderr: %s", err, first.stderr.String())
	}
	hubPID, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if hubPID == 0 || hubPID == first.cmd.Process.Pid {
		t.Fatalf("hub pid %d", hubPID)
	}
	second := startProxy(t, e)
	if got := decodeResult(t, second.callTool("demo.echo", map[string]any{"message": "two"})).text(); got != "two" {
		t.Fatalf("the second front's call: %q", got)
	}
	if after, _ := os.ReadFile(pids[0]); string(after) != string(data) {
		t.Fatalf("a second hub started: %s then %s", data, after)
	}
	ups := descendants(hubPID)
	if len(ups) == 0 {
		t.Fatal("the hub runs no upstream")
	}
	for _, c := range []*rpc{first, second} {
		_ = c.stdin.Close()
		<-c.done
	}
	deadline := time.Now().Add(20 * time.Second)
	for alive(hubPID) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if alive(hubPID) {
		t.Fatal("the hub did not stop after lingering with no session")
	}
	waitGone(t, ups, 10*time.Second)
}

// TestHubSharesUpstreams: three sessions of one project, each calling
// both servers, run one process of each: the hub's cores share them. With
// "share": false, each session runs its own.
func TestHubSharesUpstreams(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("the hub's processes are counted on Linux")
	}
	needPeers(t)
	for _, shared := range []bool{true, false} {
		t.Run(fmt.Sprintf("share=%v", shared), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.set("ICA_MCP_PROXY_HUB=on", "ICA_MCP_PROXY_HUB_LINGER=1")
			checkHubLog(t, e)
			demo, everything := demoServer(), everythingServer()
			if !shared {
				demo["share"], everything["share"] = false, false
			}
			e.writeProject(t, map[string]any{"demo": demo, "everything": everything})
			var fronts []*rpc
			for i := range 3 {
				c := startProxy(t, e)
				fronts = append(fronts, c)
				for _, tool := range []string{"demo.echo", "everything.echo"} {
					msg := fmt.Sprintf("%s from %d", tool, i)
					if got := decodeResult(t, c.callTool(tool, map[string]any{"message": msg})).text(); !strings.Contains(got, msg) {
						t.Fatalf("front %d, %s: %q", i, tool, got)
					}
				}
			}
			hubPID := readHubPID(e)
			if hubPID == 0 {
				t.Fatal("no hub pid file")
			}
			count := map[string]int{}
			for _, p := range descendants(hubPID) {
				count[p.comm]++
			}
			want := 1
			if !shared {
				want = 3
			}
			if count["ica-demo-upstre"] != want || count["node"] != want {
				t.Fatalf("the hub runs %v; want %d demo upstream and %d node for three sessions", count, want, want)
			}
			if !shared {
				for _, c := range fronts {
					_ = c.stdin.Close()
					<-c.done
				}
				return
			}
			// hub status tells the same; hub stop ends the sessions, the
			// hub and its upstreams.
			var rep struct {
				PID      int `json:"pid"`
				Sessions []struct {
					Cwd string `json:"cwd"`
				} `json:"sessions"`
				More struct {
					Shared []struct {
						Server    string            `json:"server"`
						Sessions  []string          `json:"sessions"`
						Instances []json.RawMessage `json:"instances"`
					} `json:"shared"`
					Views []struct {
						Folder   string `json:"folder"`
						Sessions int    `json:"sessions"`
						Reads    int    `json:"reads"`
					} `json:"views"`
					PSS *int `json:"pss_kib"`
				} `json:"more"`
			}
			// A change of the project's file reaches every session
			// through the view.
			e.writeProject(t, map[string]any{"demo": demo, "everything": everything, "again": demoServer()})
			for _, c := range fronts {
				waitTool(t, c, "again.echo")
			}
			out, err := e.command("hub", "status").Output()
			if err != nil || json.Unmarshal(out, &rep) != nil {
				t.Fatalf("hub status: %v: %s", err, out)
			}
			if rep.PID != hubPID || len(rep.Sessions) != 3 || len(rep.More.Shared) != 3 || rep.More.PSS == nil {
				t.Fatalf("hub status: %s", out)
			}
			for _, s := range rep.More.Shared {
				if len(s.Sessions) != 3 || len(s.Instances) != 1 {
					t.Fatalf("hub status of %s: %s", s.Server, out)
				}
			}
			// One view of the project's configuration for the three
			// sessions: its files read once per change (and once more
			// when a session read them before the first watched), not
			// once per session.
			if v := rep.More.Views; len(v) != 1 || v[0].Folder != e.project || v[0].Sessions != 3 || v[0].Reads < 2 || v[0].Reads > 3 {
				t.Fatalf("hub status, the views: %s", out)
			}
			ups := descendants(hubPID)
			if out, err := e.command("hub", "stop").CombinedOutput(); err != nil {
				t.Fatalf("hub stop: %v: %s", err, out)
			}
			for _, c := range fronts {
				select {
				case <-c.done:
				case <-time.After(20 * time.Second):
					t.Fatal("a front's session outlived hub stop")
				}
			}
			waitGone(t, ups, 10*time.Second)
			deadline := time.Now().Add(20 * time.Second)
			for alive(hubPID) && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if alive(hubPID) {
				t.Fatal("the hub runs 20s after hub stop")
			}
		})
	}
}

// TestHubClientsOfEveryRevision: two clients of each revision at once,
// each asked for its name by a legacy server (elicitation, a request of
// the server's own) and by a stateless one (input_required), several
// times: every answer is the client's own. The two 2026-07-28 clients
// share the stateless server's one instance; the four that initialize
// (both legacy revisions) lease the instances the proxy speaks to as a
// legacy client. Clients of the two kinds do not share, as the proxy
// speaks to a server as its client does.
func TestHubClientsOfEveryRevision(t *testing.T) {
	t.Parallel()
	needPeers(t)
	e := hubEnv(t)
	e.set("ICA_MCP_PROXY_HUB_LINGER=5", "ICA_LOG_LEVEL=debug")
	demo := demoServer()
	demo["env"] = map[string]any{"ICA_DEMO_FEATURES": "1"}
	e.writeProject(t, map[string]any{"everything": everythingServer(), "demo": demo})
	revisions := []string{"2025-06-18", "2025-11-25", "2026-07-28"}
	var clients []*revClient
	for _, version := range revisions {
		for i := range 2 {
			clients = append(clients, newNamedRevClient(t, e, version, fmt.Sprintf("client-%s-%d", version, i)))
		}
	}
	var wg sync.WaitGroup
	for _, c := range clients {
		// A client's calls one after another, the clients at once. (A
		// failing call ends its goroutine; Done is deferred.)
		wg.Go(func() {
			for range 3 {
				if got := c.tool("everything.trigger-elicitation-request", nil); !strings.Contains(got, c.name) {
					t.Errorf("the legacy server's question: %q; want %s's answer", got, c.name)
				}
				if got := c.tool("demo.confirm", map[string]any{"question": "who?"}); !strings.Contains(got, c.name) {
					t.Errorf("the stateless server's question: %q; want %s's answer", got, c.name)
				}
			}
		})
	}
	wg.Wait()
	out, err := e.command("hub", "status").Output()
	var rep struct {
		More struct {
			Shared []struct {
				Server    string            `json:"server"`
				Mode      string            `json:"mode"`
				Sessions  []string          `json:"sessions"`
				Instances []json.RawMessage `json:"instances"`
			} `json:"shared"`
		} `json:"more"`
	}
	if err != nil || json.Unmarshal(out, &rep) != nil {
		t.Fatalf("hub status: %v: %s", err, out)
	}
	// Per server, one entry for the clients that initialize (either
	// legacy revision: the proxy speaks to the server as they do) and
	// one for the 2026-07-28 clients.
	entries, shared := map[string]int{}, 0
	for _, s := range rep.More.Shared {
		entries[s.Server]++
		switch {
		case s.Mode == "shared":
			shared++
			if s.Server != "demo" || len(s.Sessions) != 2 || len(s.Instances) != 1 {
				t.Errorf("%s, shared: %d sessions on %d instances; want the stateless demo, its 2 sessions on 1: %s", s.Server, len(s.Sessions), len(s.Instances), out)
			}
		case len(s.Instances) < 1 || len(s.Instances) > len(s.Sessions):
			t.Errorf("%s, leased: %d instances for %d sessions: %s", s.Server, len(s.Instances), len(s.Sessions), out)
		}
	}
	if entries["demo"] != 2 || entries["everything"] != 2 || shared != 1 {
		t.Errorf("entries per server %v (%d shared); want 2 each, one of them shared: %s", entries, shared, out)
	}
}

// TestHubSessionsWatchAResource: 2026-07-28 clients watch a resource of
// the shared stateless demo (which has no resources/subscribe: the proxy
// holds a subscriptions/listen request for them), and a change reaches
// each watcher once, tagged with its own subscription; a client that
// watches nothing hears nothing.
func TestHubSessionsWatchAResource(t *testing.T) {
	t.Parallel()
	e := hubEnv(t)
	demo := demoServer()
	demo["env"] = map[string]any{"ICA_DEMO_FEATURES": "1"}
	e.writeProject(t, map[string]any{"demo": demo})
	a, b, quiet := newRevClient(t, e, "2026-07-28"), newRevClient(t, e, "2026-07-28"), newRevClient(t, e, "2026-07-28")
	for _, c := range []*revClient{a, b} {
		c.modernHeld("subscriptions/listen", map[string]any{"notifications": map[string]any{"resourceSubscriptions": []string{"demo://greeting"}}}, c.caps)
		waitNote(t, c.rpc, "notifications/subscriptions/acknowledged", "demo://greeting")
	}
	if got := quiet.tool("demo.touch", nil); got != "touched" {
		t.Fatalf("demo.touch: %q", got)
	}
	for name, c := range map[string]*revClient{"a": a, "b": b} {
		waitNote(t, c.rpc, "notifications/resources/updated", "io.modelcontextprotocol/subscriptionId")
		time.Sleep(300 * time.Millisecond) // a second copy would come now
		if n := len(c.notifications("notifications/resources/updated")); n != 1 {
			t.Errorf("%s got the update %d times, want once: %q", name, n, c.notifications("notifications/resources/updated"))
		}
	}
	if n := len(quiet.notifications("notifications/resources/updated")); n != 0 {
		t.Errorf("a client that watches nothing got %d updates", n)
	}
}

// TestHubSessionLogsReachItsStderr: a hub session's logs go to its own
// front's stderr (what the runtime shows as the server's log), at the
// level its own environment sets, and never to another session's; what a
// shared upstream's core logs (here, that it failed) reaches the session
// it concerns.
func TestHubSessionLogsReachItsStderr(t *testing.T) {
	t.Parallel()
	e := hubEnv(t)
	e.writeProject(t, map[string]any{"demo": demoServer(), "broken": map[string]any{"command": filepath.Join(e.project, "no-such-server")}})
	cmd := e.command()
	cmd.Env = append(cmd.Env, "ICA_LOG_LEVEL=debug")
	verbose := startRPC(t, cmd)
	verbose.initialize()
	quiet := startProxy(t, e)
	for _, c := range []*rpc{verbose, quiet} {
		if got := decodeResult(t, c.callTool("demo.echo", map[string]any{"message": "hi"})).text(); got != "hi" {
			t.Fatalf("demo.echo: %q", got)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(verbose.stderr.String(), "[DEBUG] ica-mcp-proxy.") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := verbose.stderr.String(); !strings.Contains(got, "[DEBUG] ica-mcp-proxy.") || !strings.Contains(got, "session=s1") {
		t.Fatalf("the debug session's stderr has none of its debug logs:\n%s", got)
	}
	if got := quiet.stderr.String(); strings.Contains(got, "[DEBUG]") || strings.Contains(got, "session=s1") {
		t.Fatalf("the quiet session's stderr has debug lines, or the other session's:\n%s", got)
	}
	// The session whose start of it failed is told (no other: the line
	// carries what the server wrote).
	told := func() bool {
		return strings.Contains(quiet.stderr.String(), "upstream failed: server=broken") ||
			strings.Contains(verbose.stderr.String(), "upstream failed: server=broken")
	}
	for !told() && time.Now().Before(deadline.Add(10*time.Second)) {
		time.Sleep(20 * time.Millisecond)
	}
	if !told() {
		t.Fatalf("the shared upstream's failure is in no session's stderr:\n%s\n%s", verbose.stderr.String(), quiet.stderr.String())
	}
}

// TestHubRemoteServerAsksOutsideACall: a remote legacy server's
// requests on its GET stream, outside any call, reach the one session
// using it through a hub too (the test of the proxy alone, run with
// ICA_TEST_HUB=on; serial, as it sets the variable).
func TestHubRemoteServerAsksOutsideACall(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the hub is tested on Linux")
	}
	t.Setenv("ICA_TEST_HUB", "on")
	testRemoteServerRequestsAndCancellation(t)
}

// TestHubKilledSessionGoesOn: a hub killed under a session is replaced;
// the front hands the session to the new hub, which replays the client's
// initialize and keeps its answer, so the client's next call just works.
// What the old hub ran ends with it.
func TestHubKilledSessionGoesOn(t *testing.T) {
	t.Parallel()
	e := hubEnv(t)
	c := startProxy(t, e)
	if got := decodeResult(t, c.callTool("demo.echo", map[string]any{"message": "before"})).text(); got != "before" {
		t.Fatalf("before: %q", got)
	}
	old := readHubPID(e)
	if old == 0 {
		t.Fatal("no hub pid file")
	}
	ran := descendants(old)
	killProcess(t, old)
	// A request the dying hub read before it died is lost with it, as a
	// call in flight: wait for the death, and for the front to resume.
	deadline := time.Now().Add(20 * time.Second)
	for (alive(old) || !strings.Contains(c.stderr.String(), "the hub died")) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := decodeResult(t, c.callTool("demo.echo", map[string]any{"message": "after"})).text(); got != "after" {
		t.Fatalf("after the hub was killed: %q\nfront's stderr: %s", got, c.stderr.String())
	}
	if now := readHubPID(e); now == old || now == 0 || !alive(now) {
		t.Fatalf("the hub after: pid %d (the killed one was %d)", now, old)
	}
	if stray := c.strayAnswers(); len(stray) > 0 {
		t.Fatalf("the client got answers it never asked for: %v", stray)
	}
	if !strings.Contains(c.stderr.String(), "the hub died") {
		t.Fatalf("the front does not say the hub died:\n%s", c.stderr.String())
	}
	waitGone(t, ran, 10*time.Second)
	_ = c.stdin.Close()
	<-c.done
}

// TestHubClientGoneCancelsItsCallsOnly: a client that goes away mid-call
// has its call cancelled at the upstream; another session's call on the
// same server goes on and is answered.
func TestHubClientGoneCancelsItsCallsOnly(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("the hub is tested on Linux")
	}
	e := newEnv(t)
	e.set("ICA_MCP_PROXY_HUB=on", "ICA_MCP_PROXY_HUB_LINGER=1", "ICA_LOG_LEVEL=debug")
	checkHubLog(t, e)
	e.writeProject(t, map[string]any{"demo": demoServer()})
	a, b := startProxy(t, e), startProxy(t, e)
	a.send(`{"jsonrpc":"2.0","id":"long","method":"tools/call","params":{"name":"demo.sleep","arguments":{"ms":60000}}}`)
	hubLog := func() string {
		logs, _ := filepath.Glob(filepath.Join(e.home, "run", "hub-*.log"))
		if len(logs) != 1 {
			return ""
		}
		data, _ := os.ReadFile(logs[0])
		return string(data)
	}
	// a's call has reached the upstream when the hub shows it held.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(statusOf(t, e), `"holder"`) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	answered := make(chan string, 1)
	go func() { answered <- decodeResult(t, b.callTool("demo.sleep", map[string]any{"ms": 1500})).text() }()
	_ = a.stdin.Close() // a's client goes away
	<-a.done
	select {
	case got := <-answered:
		if got == "" {
			t.Fatal("b's call got an empty answer")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("b's call was not answered after a's client went away")
	}
	deadline = time.Now().Add(10 * time.Second)
	for strings.Count(hubLog(), "sleep cancelled") < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := strings.Count(hubLog(), "sleep cancelled"); n != 1 {
		t.Fatalf("calls cancelled at the upstream: %d, want a's only\n%s", n, hubLog())
	}
}

// statusOf is hub status in JSON.
func statusOf(t *testing.T, e *env) string {
	out, _ := e.command("hub", "status").Output()
	return string(out)
}

// TestHubFrontEndsOnSignal: SIGTERM to a front (as a runtime ends a
// server) ends it, and its session in the hub.
func TestHubFrontEndsOnSignal(t *testing.T) {
	t.Parallel()
	e := hubEnv(t)
	c := startProxy(t, e)
	if got := decodeResult(t, c.callTool("demo.echo", map[string]any{"message": "hi"})).text(); got != "hi" {
		t.Fatalf("the call: %q", got)
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the front did not end on SIGTERM")
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Contains(statusOf(t, e), `"cwd"`) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if s := statusOf(t, e); strings.Contains(s, `"cwd"`) {
		t.Fatalf("the session outlived its front: %s", s)
	}
}

// TestHubRefusedServesInProcess: a front that cannot use the hub (here,
// its run folder is open to others) says why on stderr and serves the
// session itself.
func TestHubRefusedServesInProcess(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("the hub's socket is tested on Linux")
	}
	e := newEnv(t)
	e.set("ICA_MCP_PROXY_HUB=on")
	checkHubLog(t, e)
	e.writeProject(t, map[string]any{"demo": demoServer()})
	run := filepath.Join(e.home, "run")
	if err := os.MkdirAll(run, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(run, 0o777); err != nil {
		t.Fatal(err)
	}
	c := startProxy(t, e)
	if got := decodeResult(t, c.callTool("demo.echo", map[string]any{"message": "here"})).text(); got != "here" {
		t.Fatalf("the call: %q", got)
	}
	if s := c.stderr.String(); !strings.Contains(s, "serving in-process") || !strings.Contains(s, "chmod 700") {
		t.Fatalf("the front does not say why it serves in-process:\n%s", s)
	}
	if pids, _ := filepath.Glob(filepath.Join(run, "hub-*.pid")); len(pids) > 0 {
		t.Fatal("a hub started in an insecure folder")
	}
}

// readHubPID is the pid in the hub's pid file of e's home, or 0.
func readHubPID(e *env) int {
	pids, _ := filepath.Glob(filepath.Join(e.home, "run", "hub-*.pid"))
	if len(pids) != 1 {
		return 0
	}
	data, _ := os.ReadFile(pids[0])
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// hubEnv is an environment whose sessions go through the hub, lingering
// a second after the last, with the demo upstream as the project's.
func hubEnv(t *testing.T) *env {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the hub's socket and its process checks are tested on Linux")
	}
	e := newEnv(t)
	e.set("ICA_MCP_PROXY_HUB=on", "ICA_MCP_PROXY_HUB_LINGER=1")
	e.writeProject(t, map[string]any{"demo": demoServer()})
	checkHubLog(t, e)
	return e
}

// checkHubLog fails the test when the race detector reported in the
// hub's log (the hub's stderr goes there, not to a front), and prints the
// log after a failed test: the fronts' stderr says little of what
// happened inside the hub.
func checkHubLog(t *testing.T, e *env) {
	t.Cleanup(func() {
		logs, _ := filepath.Glob(filepath.Join(e.home, "run", "hub-*.log"))
		for _, name := range logs {
			data, _ := os.ReadFile(name)
			if bytes.Contains(data, []byte("WARNING: DATA RACE")) {
				t.Errorf("the race detector reported a data race in the hub (%s)", name)
			}
			if !t.Failed() {
				continue
			}
			if len(data) > 64<<10 {
				data = data[len(data)-64<<10:]
			}
			t.Logf("%s:\n%s", name, data)
		}
	})
}
