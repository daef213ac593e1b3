package e2e

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/coretest"
)

var update = flag.Bool("update", false, "rewrite the wire goldens in core/frontend/testdata/golden with what the proxy does now")

// goldens is where the wire goldens live: core/frontend replays them
// in-process, this suite through the real binaries.
const goldens = "../../core/frontend/testdata/golden"

// TestWireGoldens replays the wire goldens (see core/coretest) through the
// real binaries: the proxy, its stdio plugin, and the scripted upstream as
// a process. Run with -update to rewrite the .want sections, and read the
// diff.
func TestWireGoldens(t *testing.T) {
	t.Parallel()
	repeated(t, testWireGoldens, onStreams, parentWatch)
}

func testWireGoldens(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(goldens, "*.txtar"))
	if len(files) == 0 {
		t.Fatal("no goldens in " + goldens)
	}
	bin := buildScripted(t)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txtar"), func(t *testing.T) { runGolden(t, bin, f) })
	}
}

func runGolden(t *testing.T, bin, file string) {
	ar := coretest.ReadArchive(t, file)
	dir := t.TempDir()
	scriptPath, record := filepath.Join(dir, "script.json"), filepath.Join(dir, "record.jsonl")
	if err := os.WriteFile(scriptPath, []byte(ar.Get("script.json")), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.writeProject(t, map[string]any{"up": map[string]any{"command": bin, "env": map[string]any{"SCRIPT": scriptPath, "RECORD": record}}})
	c := startRPC(t, e.command())
	coretest.PlayClient(t, goldenPeer{c}, ar.Get("client"))
	_ = c.stdin.Close()
	<-c.done

	c.mu.Lock()
	got := coretest.NormalizeClient(c.all)
	c.mu.Unlock()
	data, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	up := coretest.NormalizeUpstream(strings.Split(string(data), "\n"))
	ar.Check(t, file, *update, got, up)
}

// goldenPeer is the e2e client as a golden's client.
type goldenPeer struct{ c *rpc }

func (p goldenPeer) Send(msg string) { p.c.send(msg) }

func (p goldenPeer) OnRequest(method string, answer func(json.RawMessage) string) {
	p.c.onRequest(method, answer)
}

func (p goldenPeer) Next(from int, match func(json.RawMessage) bool) (json.RawMessage, int) {
	p.c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		p.c.mu.Lock()
		all := p.c.all
		p.c.mu.Unlock()
		for i := from; i < len(all); i++ {
			if match(all[i]) {
				return all[i], i
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.c.t.Fatalf("client script: nothing came in 20 s; got %d messages", len(p.c.all))
	return nil, -1
}
