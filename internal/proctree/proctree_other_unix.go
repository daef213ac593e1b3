//go:build unix && !linux

package proctree

import "syscall"

// prepareOS has no Pdeathsig to set outside Linux: StartWatched's guard
// watches the parent instead.
func prepareOS(*syscall.SysProcAttr) {}

// hasPdeathsig: only Linux has it.
const hasPdeathsig = false

func noParentSignal(*syscall.SysProcAttr) {}
