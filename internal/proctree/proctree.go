// Package proctree starts a child as the root of a process tree of its
// own, and ends that whole tree: a stdio upstream's grandchildren (an npx
// wrapper's node, a shell's pipeline) go with it. On unix the tree is a
// process group; on Linux the child is also told when its parent dies
// (Pdeathsig). On Windows it is a Job Object, which ends every process in
// it when the last handle closes.
package proctree

import (
	"os/exec"
	"time"
)

// pollEvery is how often Stop looks whether the tree is empty.
const pollEvery = 20 * time.Millisecond

// Stop ends the tree politely, then by force whatever is left after wait.
func (t *Tree) Stop(wait time.Duration) {
	if t.Terminate() != nil {
		return // empty already
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		time.Sleep(pollEvery)
		if t.Empty() {
			return
		}
	}
	_ = t.Kill()
}

// Start starts cmd as the root of a tree of its own (Prepare, cmd.Start,
// Adopt).
func Start(cmd *exec.Cmd) (*Tree, error) {
	Prepare(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t, err := Adopt(cmd)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, err
	}
	return t, nil
}
