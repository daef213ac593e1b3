//go:build unix

package proctree

import (
	"os/exec"
	"syscall"
)

// ContainChildren makes every process this one starts from now on end
// with it. On unix each child watches for that itself (Pdeathsig, the
// plugins' parent pipe), so there is nothing to do.
func ContainChildren() error { return nil }

// StartDetached starts cmd in a session of its own, outside this
// process's group, so that nothing that ends this process (the runtime
// closing its group, a terminal's hangup) ends it.
func StartDetached(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd.Start()
}
