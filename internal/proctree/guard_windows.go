package proctree

import "os/exec"

// StartWatched is Start on Windows: the Job Object ends the tree when
// this process dies (ContainChildren, and each tree's own job).
func StartWatched(cmd *exec.Cmd) (*Tree, error) { return Start(cmd) }

// RunGuard is never asked for on Windows.
func RunGuard([]string) int { return 2 }
