//go:build unix

package proctree

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// guardPoll is how often a guard looks whether its parent is still there.
const guardPoll = 100 * time.Millisecond

// StartWatched starts cmd as Start does, in a tree that also ends when
// this process dies, however it dies. Linux has the kernel tell the child
// (Pdeathsig). Elsewhere, or with EnvParentWatch=poll, cmd runs under a
// guard: this executable again (GuardArg), leading the process group,
// with cmd as its child in the group; the guard watches its parent and
// ends the group when the parent is gone. The tree, its signals and the
// child's stdio are the same either way; Wait reports the child's exit.
func StartWatched(cmd *exec.Cmd) (*Tree, error) {
	if !needGuard() {
		return Start(cmd)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this program to guard %s: %w", cmd.Path, err)
	}
	cmd.Args = append([]string{self, GuardArg, strconv.Itoa(os.Getpid()), cmd.Path}, cmd.Args...)
	cmd.Path = self
	Prepare(cmd)
	noParentSignal(cmd.SysProcAttr) // the guard's watch does this job
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t, err := Adopt(cmd)
	if err != nil {
		return nil, err
	}
	t.guarded = true
	return t, nil
}

// endGroup ends the guard's process group once the guard's parent is gone
// (this process was handed to init or launchd): SIGTERM, then, if the
// child has not exited within the grace period (or has already, and
// only what it started may be left), SIGKILL, the guard included.
func endGroup(exited <-chan struct{}) {
	_ = syscall.Kill(0, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(2 * time.Second):
	}
	time.Sleep(200 * time.Millisecond) // helpers that exit on SIGTERM
	_ = syscall.Kill(0, syscall.SIGKILL)
}

func needGuard() bool { return !hasPdeathsig || os.Getenv(EnvParentWatch) == "poll" }

// RunGuard is the guard's whole life, given os.Args: it starts the
// command, stays in its process group, and returns the command's exit
// code once it ends; if the guard's parent dies first, it sends the group
// SIGTERM, then SIGKILL after a grace period.
func RunGuard(args []string) int {
	// args: self, GuardArg, parent pid, path, argv0, argv1...
	parent := os.Getppid()
	if len(args) < 5 || args[2] != strconv.Itoa(parent) {
		// Not started by StartWatched, or its parent is already gone:
		// this is no general launcher, and it starts nothing unguarded.
		fmt.Fprintln(os.Stderr, "proctree guard: not started by the process it guards for")
		return 2
	}
	child := &exec.Cmd{Path: args[3], Args: args[4:], Env: os.Environ(), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	// The group's signals reach the child directly; the guard outlives
	// them to report how the child ended. SIGUSR1 is the host's word that
	// it closes the child's stdin on purpose (Tree.Closing).
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
	if err := child.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "start %s: %v\n", args[3], err)
		return 127
	}
	closing := make(chan struct{})
	go func() {
		said := false
		for sig := range sigs {
			if sig == syscall.SIGUSR1 && !said {
				said = true
				close(closing)
			}
		}
	}()
	exited := make(chan struct{})
	go func() {
		for {
			select {
			case <-exited:
				return
			case <-time.After(guardPoll):
				if os.Getppid() != parent {
					endGroup(exited)
					return
				}
			}
		}
	}()
	err := child.Wait()
	close(exited)
	if hostGone(parent, closing) {
		// The child ended because its host did (its stdin closed with
		// it, say); what it started may not have.
		endGroup(exited)
	}
	if err == nil {
		return 0
	}
	if st, ok := child.ProcessState.Sys().(syscall.WaitStatus); ok && st.Signaled() {
		// Dies of the same signal, so its parent sees what the child's
		// would have ("killed", not exit code 137).
		signal.Reset()
		_ = syscall.Kill(os.Getpid(), st.Signal())
		time.Sleep(time.Second)
		return 128 + int(st.Signal())
	}
	return child.ProcessState.ExitCode()
}

// hostGone says, once the child has exited, whether the guard's host is
// gone or going, so that the guard must end what the child started.
func hostGone(parent int, closing <-chan struct{}) bool {
	if os.Getppid() != parent {
		return true
	}
	if !hungUp(os.Stdin) {
		return false // the child ended by itself; its host ends the group
	}
	// Its stdin was closed: by the host on purpose, which says so first,
	// or by the host's death. A dying process's files close a moment
	// before the kernel hands its children to init, and the child can
	// read EOF and exit in between: so wait for one or the other.
	deadline := time.NewTimer(hostExitLimit)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-closing:
			return false
		case <-deadline.C:
			return false // the host is alive and will end the group
		case <-tick.C:
			if os.Getppid() != parent {
				return true
			}
		}
	}
}

// hostExitLimit bounds how long a guard whose child read EOF waits to
// learn whether its host is dying.
const hostExitLimit = time.Second

// hungUp reports whether f is a pipe whose writers are all gone (poll
// says POLLHUP; macOS too, from the pipe's EOF).
func hungUp(f *os.File) bool {
	fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents&unix.POLLHUP != 0
}
