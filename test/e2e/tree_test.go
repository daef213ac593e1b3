package e2e

import (
	"os/exec"
	"testing"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/proctree"
)

// startTree starts a helper server as the root of a process tree of its
// own, which the test's cleanup ends whole (then runs after, if set).
func startTree(t *testing.T, cmd *exec.Cmd, after func()) {
	t.Helper()
	tree, err := proctree.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = tree.Kill()
		_ = cmd.Wait()
		tree.Release()
		if after != nil {
			after()
		}
	})
}

// proc is one process seen in /proc (procs_test.go).
type proc struct {
	pid, ppid int
	comm      string
	state     byte
}
