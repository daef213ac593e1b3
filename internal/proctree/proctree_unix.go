//go:build unix

package proctree

import (
	"os/exec"
	"syscall"
)

// Tree is a process group, led by the child.
type Tree struct{ pgid int }

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

// Release frees what the tree holds (nothing on unix).
func (t *Tree) Release() {}
