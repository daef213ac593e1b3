package e2e

import (
	"context"
	"debug/buildinfo"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// buildHostile builds test/e2e/hostile, the misbehaving upstream.
func buildHostile(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hostile")
	if out, err := exec.Command("go", "build", "-o", bin, "./hostile").CombinedOutput(); err != nil {
		t.Fatalf("build hostile: %v\n%s", err, out)
	}
	return bin
}

// An upstream that writes a banner, NUL bytes, invalid JSON and UTF-8,
// wrong-case keys, answers to ids never sent, nested batches and a 16 MiB
// line that is not JSON: the proxy passes on only its real answer, keeps
// serving the other server, stays up, and its own stdout carries nothing
// but JSON-RPC. The dropped output is reported in the log.
func TestHostileUpstreamOutput(t *testing.T) {
	t.Parallel()
	repeated(t, testHostileUpstreamOutput, onStreams)
}

func testHostileUpstreamOutput(t *testing.T) {
	e := newEnv(t)
	e.writeProject(t, map[string]any{"hostile": map[string]any{"command": buildHostile(t)}, "demo": demoServer()})
	c := startProxy(t, e)
	names := c.toolNames()
	if !strings.Contains(strings.Join(names, ","), "hostile.garbage") {
		t.Fatalf("tools: %v", names)
	}
	for range 3 {
		if got := decodeResult(t, c.callTool("hostile.garbage", map[string]any{})).text(); got != "survived" {
			t.Fatalf("hostile.garbage: %q", got)
		}
		if got := decodeResult(t, c.callTool("demo.echo", map[string]any{"message": "fine"})).text(); got != "fine" {
			t.Fatalf("demo.echo: %q", got)
		}
	}
	if bad := c.nonJSON(); len(bad) > 0 {
		t.Fatalf("the proxy's stdout carried %d lines that are not JSON-RPC, first: %.200q", len(bad), bad[0])
	}
	if st := c.mirrorStatus().Servers["hostile"]; st.State != "ok" {
		t.Fatalf("hostile: %+v", st)
	}
	log := c.stderr.String()
	for _, want := range []string{"ignoring non-JSON output on stdout", "upstream sent invalid JSON; dropped", "upstream answered an id the proxy never sent"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not report %q", want)
		}
	}
}

// A 50 MiB result passes through whole, with the core's peak memory
// growing by less than four times its size; a 100 MiB one (over the 64 MiB
// a message may be) is refused at once with an error saying so, and the
// server keeps working.
func TestOversizedResults(t *testing.T) {
	t.Parallel()
	repeated(t, testOversizedResults, onStreams)
}

func testOversizedResults(t *testing.T) {
	e := newEnv(t)
	e.writeProject(t, map[string]any{"hostile": map[string]any{"command": buildHostile(t)}})
	// Memory is measured on a core built without the race detector, whose
	// shadow memory would multiply it.
	cmd := e.command()
	cmd.Path = plainProxy(t)
	c := startRPC(t, cmd)
	c.initialize()
	c.toolNames()
	before := peakRSS(t, c.cmd.Process.Pid)
	r := decodeResult(t, c.callTool("hostile.big", map[string]any{"mib": 50}))
	if r.IsError || len(r.text()) != 50<<20 {
		t.Fatalf("50 MiB result: error %v, %d bytes", r.IsError, len(r.text()))
	}
	grew := peakRSS(t, c.cmd.Process.Pid) - before
	t.Logf("core peak RSS grew by %d MiB for a 50 MiB result", grew>>20)
	if grew > 4*50<<20 {
		t.Fatalf("core peak RSS grew by %d MiB for a 50 MiB result", grew>>20)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	raw, _, err := c.request(ctx, "tools/call", map[string]any{"name": "hostile.big", "arguments": map[string]any{"mib": 100}})
	text := string(raw)
	if err != nil || !strings.Contains(text, "over the 64 MiB a message may be") {
		t.Fatalf("100 MiB result: %v %.300s", err, text)
	}
	if got := decodeResult(t, c.callTool("hostile.big", map[string]any{"mib": 0.001})).text(); len(got) != 1048 {
		t.Fatalf("the server after the refusal: %d bytes", len(got))
	}
}

// plainProxy is the proxy binary under test, or, if that was built with
// the race detector, the same core built without it.
func plainProxy(t *testing.T) string {
	t.Helper()
	info, err := buildinfo.ReadFile(proxyBin())
	if err != nil {
		t.Fatal(err)
	}
	race := false
	for _, s := range info.Settings {
		race = race || (s.Key == "-race" && s.Value == "true")
	}
	if !race {
		return proxyBin()
	}
	bin := filepath.Join(t.TempDir(), "ica-mcp-proxy")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/ica-mcp-proxy").CombinedOutput(); err != nil {
		t.Fatalf("build the proxy without -race: %v\n%s", err, out)
	}
	return bin
}

// peakRSS is a process's peak resident memory (VmHWM), in bytes.
func peakRSS(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}
