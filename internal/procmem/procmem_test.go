package procmem

import (
	"os"
	"os/exec"
	"runtime"
	"testing"
)

// The tree of this process counts a child it starts.
func TestTree(t *testing.T) {
	if runtime.GOOS != "linux" {
		if _, ok := Tree(os.Getpid()); ok {
			t.Fatal("PSS told where the system does not tell it")
		}
		return
	}
	alone, ok := Tree(os.Getpid())
	if !ok || alone <= 0 {
		t.Fatalf("PSS of this process: %d %v", alone, ok)
	}
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep:", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	found := false
	for _, p := range descendants(os.Getpid()) {
		found = found || p == cmd.Process.Pid
	}
	if !found {
		t.Fatalf("the child %d is not among the descendants", cmd.Process.Pid)
	}
	if with, ok := Tree(os.Getpid()); !ok || with <= alone {
		t.Fatalf("with a child: %d KiB, alone %d KiB", with, alone)
	}
}
