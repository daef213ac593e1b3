package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	binDir string // ica-mcp-proxy, plugins, demo upstream
	// plainBinDir holds the same binaries built without the race
	// detector, for the tests that run the proxy as users do under an
	// agent runtime (which waits only so long for it, and would not show
	// a race report anyway); binDir when not given.
	plainBinDir string
	peersDir    string // test/peers with node_modules, or "" when absent
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode (they start real processes)")
		return 0
	}
	binDir = os.Getenv("ICA_TEST_BIN")
	if binDir == "" {
		dir, err := os.MkdirTemp("", "ica-e2e-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer func() { _ = os.RemoveAll(dir) }()
		for out, pkg := range map[string]string{
			"ica-mcp-proxy":     "../../cmd/ica-mcp-proxy",
			"ica-demo-upstream": "../../examples/demo-upstream",
		} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, out), pkg)
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintln(os.Stderr, "build", pkg, err)
				return 1
			}
		}
		binDir = dir
	}
	plainBinDir = os.Getenv("ICA_TEST_PLAIN_BIN")
	if plainBinDir == "" {
		plainBinDir = binDir
	}
	peersDir = os.Getenv("ICA_TEST_PEERS")
	if peersDir == "" {
		peersDir, _ = filepath.Abs("../peers")
	}
	if _, err := os.Stat(filepath.Join(peersDir, "node_modules", "@modelcontextprotocol", "server-everything")); err != nil {
		peersDir = ""
	}
	scratch, err := os.MkdirTemp("", "ica-e2e-scripted-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(scratch) }()
	scriptedDir = scratch
	return m.Run()
}

var (
	scriptedDir  string
	scriptedOnce sync.Once
	scriptedErr  error
)

// buildScripted builds the scripted upstream (./scripted) once per run.
func buildScripted(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(scriptedDir, "scripted")
	scriptedOnce.Do(func() {
		if out, err := exec.Command("go", "build", "-o", bin, "./scripted").CombinedOutput(); err != nil {
			scriptedErr = fmt.Errorf("build scripted: %v\n%s", err, out)
		}
	})
	if scriptedErr != nil {
		t.Fatal(scriptedErr)
	}
	return bin
}

func proxyBin() string { return filepath.Join(binDir, "ica-mcp-proxy") }
func demoBin() string  { return filepath.Join(binDir, "ica-demo-upstream") }

// needPeers skips a test that needs the npm peers when they are absent;
// `make test` always installs them. Under CI (CI=true, as .ci/run sets)
// their absence fails the test: a skip there would pass untested.
func needPeers(t *testing.T) {
	t.Helper()
	if peersDir == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("npm peers not installed, and CI=true: run `make peers` (make test does)")
		}
		t.Skip("npm peers not installed: run `make peers` (make test does)")
	}
}

// everythingArgs is the command that runs server-everything on stdio.
func everythingServer() map[string]any {
	return map[string]any{
		"command": "node",
		"args":    []string{filepath.Join(peersDir, "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js"), "stdio"},
	}
}

func demoServer() map[string]any {
	return map[string]any{"command": demoBin()}
}
