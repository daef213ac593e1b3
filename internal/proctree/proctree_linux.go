package proctree

import "syscall"

// prepareOS asks Linux to send the child SIGTERM when this process dies,
// however it dies: a safety net under the orderly shutdown.
func prepareOS(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGTERM }

// hasPdeathsig: Linux tells a child when its parent dies.
const hasPdeathsig = true

// noParentSignal undoes prepareOS, for a guard (StartWatched).
func noParentSignal(a *syscall.SysProcAttr) { a.Pdeathsig = 0 }
