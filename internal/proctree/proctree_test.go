//go:build unix

package proctree

import (
	"os/exec"
	"testing"
	"time"
)

// Stop ends the child and what it started, even a grandchild that
// ignores SIGTERM.
func TestStopEndsTheWholeTree(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes: not in -short mode")
	}
	cmd := exec.Command("sh", "-c", `sh -c 'trap "" TERM; sleep 60' & sleep 60`)
	tree, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait() }()
	time.Sleep(200 * time.Millisecond) // the grandchild is running
	if tree.Empty() {
		t.Fatal("the tree is empty before Stop")
	}
	tree.Stop(300 * time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for !tree.Empty() {
		if time.Now().After(deadline) {
			t.Fatal("a process of the tree survived Stop")
		}
		time.Sleep(20 * time.Millisecond)
	}
	tree.Release()
}

// The guard runs only for the process that started it: not as a general
// launcher, nor once its parent is gone.
func TestGuardRefusesOtherParents(t *testing.T) {
	for _, args := range [][]string{
		{"self", GuardArg},
		{"self", GuardArg, "/bin/true", "true"},
		{"self", GuardArg, "1", "/bin/true", "true"},
	} {
		if code := RunGuard(args); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}
