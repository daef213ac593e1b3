package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// 1000 concurrent tools/call spread over three upstreams that answer out
// of order: every answer reaches its caller exactly once, with the right
// id and content; afterwards the core's goroutines and open files are back
// to what they were before the load. (make test runs this against
// binaries built with the race detector.)
func TestThousandConcurrentCalls(t *testing.T) {
	t.Parallel()
	repeated(t, testThousandConcurrentCalls, onStreams)
}

func testThousandConcurrentCalls(t *testing.T) {
	e := newEnv(t)
	hostile := buildHostile(t)
	debug := "127.0.0.1:" + freePort(t)
	e.set("ICA_MCP_PROXY_DEBUG_ADDR=" + debug)
	e.writeProject(t, map[string]any{
		"a": map[string]any{"command": hostile},
		"b": map[string]any{"command": hostile},
		"c": map[string]any{"command": hostile},
	})
	c := startProxy(t, e)
	c.toolNames()
	pid := c.cmd.Process.Pid
	for _, s := range []string{"a", "b", "c"} {
		if got := decodeResult(t, c.callTool(s+".delayed", map[string]any{"ms": 1, "tag": "warm"})).text(); got != "warm" {
			t.Fatalf("%s.delayed: %q", s, got)
		}
	}
	baseGoroutines, baseFDs := goroutines(t, debug), openFiles(t, pid)

	const calls = 1000
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			server := []string{"a", "b", "c"}[i%3]
			tag := "call-" + strconv.Itoa(i)
			// Delays spread over 0-49 ms: answers come back out of order.
			msg, id, err := c.request(ctx, "tools/call", map[string]any{"name": server + ".delayed", "arguments": map[string]any{"ms": (i * 7919) % 50, "tag": tag}})
			if err != nil {
				t.Errorf("call %d: %v", i, err)
				return
			}
			var r struct {
				ID     json.RawMessage `json:"id"`
				Result toolResult      `json:"result"`
			}
			if err := json.Unmarshal(msg, &r); err != nil || string(r.ID) != id || r.Result.text() != tag {
				t.Errorf("call %d (id %s): got id %s, %q", i, id, r.ID, r.Result.text())
			}
		})
	}
	wg.Wait()
	if stray := c.strayAnswers(); len(stray) > 0 {
		t.Fatalf("%d answers to no waiting request, first: %.200s", len(stray), stray[0])
	}
	if bad := c.nonJSON(); len(bad) > 0 {
		t.Fatalf("stdout carried non-JSON-RPC lines: %.200q", bad[0])
	}

	// Back to the baseline once the answers are out.
	var g, fds int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		g, fds = goroutines(t, debug), openFiles(t, pid)
		if g <= baseGoroutines && fds <= baseFDs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the load: %d goroutines (before: %d), %d open files (before: %d)", g, baseGoroutines, fds, baseFDs)
		}
	}
	t.Logf("%d calls; goroutines %d → %d, open files %d → %d", calls, baseGoroutines, g, baseFDs, fds)
}

// goroutines reads the core's goroutine count from its profile server.
func goroutines(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	// Read to the end, so the connection is kept for the next count: one
	// open at every count, rather than one closing or not, at random,
	// when the proxy's files are counted.
	_, _ = io.Copy(io.Discard, resp.Body)
	var n int
	if _, err := fmt.Sscanf(string(head), "goroutine profile: total %d", &n); err != nil {
		t.Fatalf("goroutine profile: %q", head)
	}
	return n
}

// openFiles counts a process's open file descriptors.
func openFiles(t *testing.T, pid int) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}
