package proctree

import (
	"fmt"
	"os/exec"
	"sync"
	"syscall"

	"golang.org/x/sys/windows"
)

// ContainChildren puts this process in a Job Object that ends every
// process in it when its last handle closes, which is when this process
// ends, however it ends. Every process started from now on joins the job
// (plugins, and through them upstreams), so none outlives the proxy.
func ContainChildren() error {
	job, err := newJob()
	if err != nil {
		return err
	}
	if err := windows.AssignProcessToJobObject(job, windows.CurrentProcess()); err != nil {
		windows.CloseHandle(job)
		return fmt.Errorf("job object: %w", err)
	}
	// The handle stays open for the life of the process: closing it is
	// what ends the children.
	ownJob.Lock()
	ownJob.h = job
	ownJob.Unlock()
	return nil
}

// ownJob is the job ContainChildren put this process in: one per
// process, as the process is in it for its life.
var ownJob struct {
	sync.Mutex
	h windows.Handle
}

// StartDetached starts cmd outside this process's job (and console), so
// that it outlives this process. The job lets a child leave only while
// it starts: no other child (a plugin, an upstream) may. A job of the
// runtime's that allows no leaving is an error: a child started inside
// it would end with this process.
func StartDetached(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP | windows.DETACHED_PROCESS | windows.CREATE_BREAKAWAY_FROM_JOB}
	ownJob.Lock()
	defer ownJob.Unlock()
	if ownJob.h != 0 {
		if err := setJobLimits(ownJob.h, windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE|windows.JOB_OBJECT_LIMIT_BREAKAWAY_OK); err != nil {
			return fmt.Errorf("letting a child leave the job: %w", err)
		}
	}
	err := cmd.Start()
	if err != nil {
		err = fmt.Errorf("starting %s outside this process's job (a job of the runtime's may not allow it): %w", cmd.Path, err)
	}
	if ownJob.h != 0 {
		// A job left open to leaving would let a child started later
		// outlive this process: that is an error too.
		if rerr := setJobLimits(ownJob.h, windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE); rerr != nil && err == nil {
			err = fmt.Errorf("closing the job to leaving again: %w", rerr)
		}
	}
	return err
}
