package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// inspector runs the MCP Inspector CLI, a real client, against the proxy.
func inspector(t *testing.T, e *env, args ...string) []byte {
	t.Helper()
	cli := filepath.Join(peersDir, "node_modules", ".bin", "mcp-inspector")
	// The Inspector gives the server only a default environment; -e adds.
	// At debug level, the proxy's log shown on a failure says how each
	// tools/list was answered.
	full := append([]string{"--cli", "-e", "ICA_HOME=" + e.home, "-e", "ICA_LOG_LEVEL=debug", proxyBin()}, args...)
	cmd := exec.Command(cli, full...)
	cmd.Dir = e.project
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mcp-inspector %v: %v\n%s\n%s", args, err, out, stderr.Bytes())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mcp-inspector %v stderr (the proxy's log):\n%s", args, stderr.Bytes())
		}
	})
	return out
}

func TestInspectorCLIThroughProxy(t *testing.T) {
	t.Parallel()
	needPeers(t)
	e := newEnv(t)
	e.writeProject(t, map[string]any{"everything": everythingServer(), "demo": demoServer()})

	names := inspectorToolNames(t, e)
	for _, want := range []string{"proxy.call", "everything.echo", "everything.get-sum", "demo.add"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s missing from the Inspector's tools/list: %v", want, names)
		}
	}

	var call struct {
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
		StructuredContent map[string]float64 `json:"structuredContent"`
	}
	out := inspector(t, e, "--method", "tools/call", "--tool-name", "everything.echo", "--tool-arg", "message=from the inspector")
	if err := json.Unmarshal(out, &call); err != nil || len(call.Content) == 0 || call.Content[0].Text != "Echo: from the inspector" {
		t.Fatalf("tools/call everything.echo: %s", out)
	}
	out = inspector(t, e, "--method", "tools/call", "--tool-name", "demo.add", "--tool-arg", "a=2", "--tool-arg", "b=40")
	if err := json.Unmarshal(out, &call); err != nil || call.StructuredContent["sum"] != 42 {
		t.Fatalf("tools/call demo.add: %s", out)
	}
}

// inspectorToolNames lists the tool names the Inspector CLI gets from
// tools/list through the proxy.
func inspectorToolNames(t *testing.T, e *env) []string {
	t.Helper()
	var list struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(inspector(t, e, "--method", "tools/list"), &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range list.Tools {
		names = append(names, x.Name)
	}
	return names
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}
