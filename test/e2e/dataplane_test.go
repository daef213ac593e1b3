package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDataPaths: where a session's messages travel. By default the stdio
// plugin hands the core its child's stdin and stdout (the core holds the
// child's stdout pipe; the plugin does not), and the HTTP plugin passes
// messages on a socket pair beside its gRPC stream; with
// ICA_MCP_PROXY_DATA_PATH=stream both stay on the stream (the plugin holds
// the pipe; the core does not). The calls answer the same either way.
func TestDataPaths(t *testing.T) {
	t.Parallel()
	repeated(t, testDataPaths, onStreams)
}

func testDataPaths(t *testing.T) {
	needPeers(t)
	web := everythingRemote(t, "streamableHttp")
	for _, tc := range []struct {
		path       string
		coreHolds  bool
		httpLogged string
	}{
		{"direct", true, "data_path=DATA_PATH_FRAMES"},
		{"stream", false, ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			e := newEnv(t)
			e.set("ICA_MCP_PROXY_DATA_PATH="+tc.path, "ICA_LOG_LEVEL=debug")
			e.writeProject(t, map[string]any{
				"demo": demoServer(),
				"web":  map[string]any{"type": "streamable-http", "url": web + "/mcp"},
			})
			c := startProxy(t, e)
			if got := decodeResult(t, c.callTool("demo.echo", map[string]any{"message": "hi"})).text(); !strings.Contains(got, "hi") {
				t.Fatalf("demo.echo: %q", got)
			}
			if got := decodeResult(t, c.callTool("web.echo", map[string]any{"message": "hi"})).text(); got != "Echo: hi" {
				t.Fatalf("web.echo: %q", got)
			}
			var upstream int
			for _, p := range waitDescendants(t, c.cmd.Process.Pid, "ica-demo-upstre", "ica-plugin-tran") {
				if p.comm == "ica-demo-upstre" {
					upstream = p.pid
				}
			}
			stdout := pipeOf(t, upstream, 1)
			stdin := pipeOf(t, upstream, 0)
			core := c.cmd.Process.Pid
			if got := holdsAny(core, stdout) && holdsAny(core, stdin); got != tc.coreHolds {
				t.Errorf("the core holds the upstream's stdin and stdout: %v, want %v", got, tc.coreHolds)
			}
			// Whichever stdio plugin process started the upstream (its
			// parent) holds its pipes only on the stream path.
			parent := readProcs()[upstream].ppid
			if got := holdsAny(parent, stdout); got == tc.coreHolds {
				t.Errorf("the stdio plugin holds the upstream's stdout: %v, want %v", got, !tc.coreHolds)
			}
			logged := strings.Contains(c.stderr.String(), "data_path=DATA_PATH_LINES")
			if logged != tc.coreHolds {
				t.Errorf("the lines path logged: %v", logged)
			}
			if tc.httpLogged != "" && !strings.Contains(c.stderr.String(), tc.httpLogged) {
				t.Errorf("the HTTP session did not say %s", tc.httpLogged)
			}
			if tc.httpLogged == "" && strings.Contains(c.stderr.String(), "DATA_PATH_FRAMES") {
				t.Error("a session left the stream with ICA_MCP_PROXY_DATA_PATH=stream")
			}
		})
	}
}

// pipeOf is what fd of process pid points to ("pipe:[N]"), waiting for it
// to exist.
func pipeOf(t *testing.T, pid, fd int) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		target, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "fd", strconv.Itoa(fd)))
		if err == nil {
			return target
		}
		if time.Now().After(deadline) {
			t.Fatalf("fd %d of %d: %v", fd, pid, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// holdsAny reports whether process pid has a descriptor open on target.
func holdsAny(pid int, target string) bool {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == target {
			return true
		}
	}
	return false
}

// TestRequestsWrittenTogether: calls that arrive in one read of the
// client's input reach a stdio upstream in one write on the direct data
// path, as a byte relay would pass them on, not one write each; and every
// call is answered.
func TestRequestsWrittenTogether(t *testing.T) {
	t.Parallel()
	if onStreamPath(t) {
		t.Skip("requests are held and written together on the direct data path only")
	}
	bin := buildScripted(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "script.json")
	if err := os.WriteFile(script, []byte(`{"revision":"stateless",
 "tools":[{"name":"echo","description":"answers","inputSchema":{"type":"object"}}],
 "calls":{"echo":{"steps":[{"result":{"content":[{"type":"text","text":"ok"}]}}]}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	reads := filepath.Join(dir, "reads")
	e := newEnv(t)
	e.writeProject(t, map[string]any{"up": map[string]any{"command": bin, "env": map[string]any{
		"SCRIPT": script, "RECORD": filepath.Join(dir, "record.jsonl"), "RECORD_READS": reads}}})
	c := startProxy(t, e)
	c.callTool("up.echo", map[string]any{}) // the session is up
	const n = 8
	var lines []string
	for i := range n {
		lines = append(lines, `{"jsonrpc":"2.0","id":`+strconv.Itoa(9000+i)+`,"method":"tools/call","params":{"name":"up.echo","arguments":{}}}`)
	}
	before, _ := os.ReadFile(reads)
	c.send(strings.Join(lines, "\n")) // one write: one read for the proxy
	answered := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		got := 0
		for _, m := range c.all {
			if strings.Contains(string(m), `"id":90`) && strings.Contains(string(m), `"ok"`) {
				got++
			}
		}
		return got
	}
	deadline := time.Now().Add(20 * time.Second)
	for answered() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := answered(); got != n {
		t.Fatalf("%d of %d calls answered", got, n)
	}
	after, _ := os.ReadFile(reads)
	counts := strings.Fields(string(after[len(before):]))
	if len(counts) != 1 || counts[0] != strconv.Itoa(n) {
		t.Fatalf("the upstream read the %d calls as %v lines per read, want them in one read", n, counts)
	}
}
