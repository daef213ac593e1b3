package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/coretest"
)

// TestUpstreamHandshake pins the frames that open a session, for a
// session client, with a stateless (2026-07-28) and an initialize-revision
// server over stdio, on a first start and on a second, when what each
// speaks is remembered. The client's revision is tried first: initialize
// in the newest revision that has it, the client's capabilities, then
// notifications/initialized. A stateless server refuses it and is asked
// server/discover (with a ping to settle a server that ignores it); the
// second time, only server/discover. (The order for a stateless client:
// core/upstream TestHandshake.)
func TestUpstreamHandshake(t *testing.T) {
	t.Parallel()
	repeated(t, testUpstreamHandshake, onStreams, parentWatch)
}

func testUpstreamHandshake(t *testing.T) {
	bin := buildScripted(t)
	const discover = `{"jsonrpc":"2.0","id":"<uD>","method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"roots":{"listChanged":true}},"io.modelcontextprotocol/clientInfo":{"name":"ica-mcp-proxy","version":"<version>"},"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`
	const initialize = `{"jsonrpc":"2.0","id":"<uN>","method":"initialize","params":{"protocolVersion":"2025-11-25","clientInfo":{"name":"ica-mcp-proxy","version":"<version>"},"capabilities":{"roots":{"listChanged":true}}}}` + "\n" +
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`
	const ping = `{"jsonrpc":"2.0","id":"<u3>","method":"ping"}`
	refused := strings.Replace(strings.SplitN(initialize, "\n", 2)[0], "<uN>", "<u1>", 1)
	for _, tc := range []struct {
		revision      string
		first, second string
	}{
		{"stateless", refused + "\n" + strings.Replace(discover, "<uD>", "<u2>", 1) + "\n" + ping, strings.Replace(discover, "<uD>", "<u1>", 1)},
		{"legacy", strings.Replace(initialize, "<uN>", "<u1>", 1), strings.Replace(initialize, "<uN>", "<u1>", 1)},
	} {
		t.Run(tc.revision, func(t *testing.T) {
			e := newEnv(t)
			// Started with the proxy both times (not lazily from the tool
			// cache the first run fills).
			e.set("ICA_MCP_PROXY_START=eager")
			dir := t.TempDir()
			script := filepath.Join(dir, "script.json")
			if err := os.WriteFile(script, []byte(`{"revision":"`+tc.revision+`","tools":[{"name":"echo","inputSchema":{"type":"object"}}],"calls":{"echo":{"steps":[{"result":{"content":[]}}]}}}`), 0o600); err != nil {
				t.Fatal(err)
			}
			// The same entry both times (its fingerprint keys what is
			// remembered), the record emptied in between.
			record := filepath.Join(dir, "record.jsonl")
			for run, want := range []string{tc.first, tc.second} {
				_ = os.Remove(record)
				e.writeProject(t, map[string]any{"up": map[string]any{"command": bin, "env": map[string]any{"SCRIPT": script, "RECORD": record}}})
				c := startRPC(t, e.command())
				c.initializeWith(map[string]any{"roots": map[string]any{"listChanged": true}})
				if names := c.toolNames(); !slices.Contains(names, "up.echo") {
					t.Fatalf("run %d: tools %v", run, names)
				}
				// A call has the session open.
				_ = c.callTool("up.echo", map[string]any{})
				_ = c.stdin.Close()
				<-c.done
				if got := handshakeFrames(t, record); got != want {
					t.Errorf("run %d: the upstream received:\n%s\nwant:\n%s", run, got, want)
				}
			}
		})
	}
}

// handshakeFrames is what the upstream received before its first
// request of another kind (a listing or the call), ids numbered by first appearance, members of _meta sorted.
func handshakeFrames(t *testing.T, record string) string {
	t.Helper()
	data, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		r := gjson.GetMany(line, "id", "method")
		if m := r[1].Str; m != "server/discover" && m != "ping" && m != "initialize" && m != "notifications/initialized" {
			break
		}
		if r[0].Exists() {
			if _, ok := ids[r[0].Raw]; !ok {
				ids[r[0].Raw] = `"<u` + string(rune('0'+len(ids)+1)) + `>"`
			}
			line, _ = sjson.SetRaw(line, "id", ids[r[0].Raw])
		}
		if m := gjson.Get(line, "params._meta"); m.IsObject() {
			var v map[string]json.RawMessage
			_ = json.Unmarshal([]byte(m.Raw), &v)
			sorted, _ := json.Marshal(v) // map keys marshal sorted
			line, _ = sjson.SetRaw(line, "params._meta", string(sorted))
		}
		out = append(out, coretest.MaskVersion(line))
	}
	return strings.Join(out, "\n")
}
