//go:build unix

package proctree

import (
	"os/exec"
	"syscall"
)

// Tree is a process group, led by the child (or by its guard).
type Tree struct {
	pgid int
	// guarded: the leader is a guard (StartWatched), told by SIGUSR1
	// that its host closes the child's stdin on purpose (Closing).
	guarded bool
}

// Prepare sets cmd to start in a process group of its own (and, where the
// system has it, to be told when this process dies: prepareOS).
func Prepare(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	prepareOS(cmd.SysProcAttr)
}

// Adopt returns the tree of a child started after Prepare.
func Adopt(cmd *exec.Cmd) (*Tree, error) { return &Tree{pgid: cmd.Process.Pid}, nil }

// Terminate sends SIGTERM to the whole group; an error means it is empty.
func (t *Tree) Terminate() error { return syscall.Kill(-t.pgid, syscall.SIGTERM) }

// Kill sends SIGKILL to the whole group.
func (t *Tree) Kill() error { return syscall.Kill(-t.pgid, syscall.SIGKILL) }

// Empty reports whether no process of the group is left.
func (t *Tree) Empty() bool { return syscall.Kill(-t.pgid, 0) != nil }

// Closing tells the tree that its host is about to close the child's
// stdin on purpose. A guard that then sees the child exit knows its host
// lives on and will end the group itself; without the word, a stdin
// closed under the child means the host is dying (see RunGuard).
func (t *Tree) Closing() {
	if t.guarded {
		_ = syscall.Kill(t.pgid, syscall.SIGUSR1)
	}
}

// Release frees what the tree holds (nothing on unix).
func (t *Tree) Release() {}
