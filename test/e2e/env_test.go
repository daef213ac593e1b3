package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// env is a scratch ICA_HOME with the plugins installed, and a project
// directory.
type env struct {
	home    string
	project string
	vars    []string // extra environment for the proxy
	// bin is the proxy's executable when not the one under test's (see
	// TestGoInstall).
	bin string
	// wine, when set, is the folder under /tmp of a Windows env: bin is
	// the Windows build, run under Wine (wine_test.go).
	wine string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	root := t.TempDir()
	e := &env{home: filepath.Join(root, "home"), project: filepath.Join(root, "project")}
	// ICA_TEST_DATA_PATH=stream runs the tests with every session's
	// messages on the plugins' gRPC streams (make test runs the data-plane
	// tests both ways); a test's own setting comes later and wins.
	if v := os.Getenv("ICA_TEST_DATA_PATH"); v != "" {
		e.set("ICA_MCP_PROXY_DATA_PATH=" + v)
	}
	// ICA_TEST_PARENT_WATCH=poll runs every stdio upstream under the
	// guard macOS uses (proctree.StartWatched).
	if v := os.Getenv("ICA_TEST_PARENT_WATCH"); v != "" {
		e.set("ICA_MCP_PROXY_PARENT_WATCH=" + v)
	}
	// ICA_TEST_HUB=on runs every session through a hub of the test's
	// $ICA_HOME (debug logs, shown when the test fails).
	if v := os.Getenv("ICA_TEST_HUB"); v != "" {
		e.set("ICA_MCP_PROXY_HUB="+v, "ICA_MCP_PROXY_HUB_LINGER=2", "ICA_LOG_LEVEL=debug")
		checkHubLog(t, e)
	}
	for _, v := range variantsOf(t) {
		e.set(v.env...)
	}
	e.install(t)
	return e
}

// A variant is a way of running the proxy that some tests are repeated
// under (repeated): the tests of what crosses the data plane again with
// every session's messages on the plugins' gRPC streams, and the tests of
// an upstream's life again under the guard macOS uses in place of
// Linux's Pdeathsig (internal/proctree.StartWatched).
type variant struct {
	name string
	env  []string
}

var (
	onStreams   = variant{"on-streams", []string{"ICA_MCP_PROXY_DATA_PATH=stream"}}
	parentWatch = variant{"parent-watch", []string{"ICA_MCP_PROXY_PARENT_WATCH=poll"}}
	variants    = []variant{onStreams, parentWatch}
)

// repeated runs f as the subtest "default", then once more under each
// variant, as a subtest named after it. A renamed test keeps its
// variants: they are said here, not in a list of names elsewhere.
func repeated(t *testing.T, f func(t *testing.T), vs ...variant) {
	parallel := func(t *testing.T) {
		t.Parallel()
		f(t)
	}
	t.Run("default", parallel)
	for _, v := range vs {
		t.Run(v.name, parallel)
	}
}

// variantsOf are the variants t runs under, read from its name.
func variantsOf(t *testing.T) []variant {
	var out []variant
	path := "/" + t.Name() + "/"
	for _, v := range variants {
		if strings.Contains(path, "/"+v.name+"/") {
			out = append(out, v)
		}
	}
	return out
}

// onStreamPath says whether t's sessions carry their messages on the
// plugins' gRPC streams.
func onStreamPath(t *testing.T) bool {
	if os.Getenv("ICA_TEST_DATA_PATH") == "stream" {
		return true
	}
	for _, v := range variantsOf(t) {
		if v.name == onStreams.name {
			return true
		}
	}
	return false
}

// install makes the project folder and installs the bundled plugins.
func (e *env) install(t *testing.T) {
	t.Helper()
	if err := os.MkdirAll(e.project, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := e.command("plugins", "install").CombinedOutput()
	if err != nil {
		t.Fatalf("plugins install: %v\n%s", err, out)
	}
}

// environ is the proxy's environment: the test's, minus ICA_ settings,
// plus ICA_HOME and the test's variables.
func (e *env) environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		if len(kv) > 4 && kv[:4] == "ICA_" {
			continue
		}
		out = append(out, kv)
	}
	out = append(out, "ICA_HOME="+e.home)
	return append(out, e.vars...)
}

func (e *env) set(kv ...string) { e.vars = append(e.vars, kv...) }

// command runs the proxy's CLI in the project directory.
func (e *env) command(args ...string) *exec.Cmd {
	bin := e.bin
	if bin == "" {
		bin = proxyBin()
	}
	if e.wine != "" {
		return wineCommand(e.project, append([]string{"ICA_HOME=" + winPath(e.home)}, e.vars...), bin, args...)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = e.project
	cmd.Env = e.environ()
	return cmd
}

// writeProject writes the project's .mcp.json.
func (e *env) writeProject(t *testing.T, servers map[string]any) {
	t.Helper()
	writeJSON(t, filepath.Join(e.project, ".mcp.json"), map[string]any{"mcpServers": servers})
}

// writeHome writes $ICA_HOME/mcp-servers.json.
func (e *env) writeHome(t *testing.T, servers map[string]any) {
	t.Helper()
	writeJSON(t, filepath.Join(e.home, "mcp-servers.json"), map[string]any{"mcpServers": servers})
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// replaceFile puts data at path as a new file (0755), renamed into place.
// The bundled plugins are hard links to the proxy's executable: writing
// into one would change the proxy itself (or fail, text file busy).
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
