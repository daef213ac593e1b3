package proctree

import (
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Tree is a Job Object holding the child and everything it starts.
type Tree struct {
	pid int
	// mu guards job, which Release closes: no call may reach a handle
	// number Windows has since given to something else.
	mu     sync.Mutex
	job    windows.Handle
	closed bool
}

// withJob runs f with the job's handle, unless it is released.
func (t *Tree) withJob(f func(windows.Handle) error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return fmt.Errorf("process tree of %d is released", t.pid)
	}
	return f(t.job)
}

// Closing is for a unix guard; a Job Object needs no word.
func (t *Tree) Closing() {}

// Prepare starts the child in a console process group of its own, so that
// a console event for it reaches no one else.
func Prepare(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.CreationFlags |= windows.CREATE_NEW_PROCESS_GROUP
}

// Adopt puts a started child in a new Job Object that ends every process
// in it when its last handle closes (this process's, at Release or when
// this process dies). Processes the child starts join the job.
func Adopt(cmd *exec.Cmd) (*Tree, error) {
	job, err := newJob()
	if err != nil {
		return nil, err
	}
	p, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(cmd.Process.Pid))
	if err != nil {
		windows.CloseHandle(job)
		return nil, fmt.Errorf("open process %d: %w", cmd.Process.Pid, err)
	}
	defer windows.CloseHandle(p)
	if err := windows.AssignProcessToJobObject(job, p); err != nil {
		windows.CloseHandle(job)
		return nil, fmt.Errorf("job object: %w", err)
	}
	return &Tree{job: job, pid: cmd.Process.Pid}, nil
}

// Terminate ends the tree. Windows has no SIGTERM a console program can
// be sent from here: the child had its stdin closed first, which is the
// polite request; this ends every process in the job.
func (t *Tree) Terminate() error {
	if t.Empty() {
		return fmt.Errorf("process tree of %d is empty", t.pid)
	}
	return t.Kill()
}

// Kill ends every process in the job.
func (t *Tree) Kill() error {
	return t.withJob(func(job windows.Handle) error { return windows.TerminateJobObject(job, 1) })
}

// Empty reports whether no process of the job is left.
func (t *Tree) Empty() bool {
	var info jobAccounting
	err := t.withJob(func(job windows.Handle) error {
		return windows.QueryInformationJobObject(job, windows.JobObjectBasicAccountingInformation,
			uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info)), nil)
	})
	return err != nil || info.ActiveProcesses == 0
}

// Release closes the job's handle, which ends whatever is left in it.
func (t *Tree) Release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.closed = true
		windows.CloseHandle(t.job)
	}
}

// jobAccounting is JOBOBJECT_BASIC_ACCOUNTING_INFORMATION, which
// x/sys/windows does not define.
type jobAccounting struct {
	TotalUserTime, TotalKernelTime                     int64
	ThisPeriodTotalUserTime, ThisPeriodTotalKernelTime int64
	TotalPageFaultCount, TotalProcesses                uint32
	ActiveProcesses, TotalTerminatedProcesses          uint32
}

// newJob makes a Job Object that ends every process in it when its last
// handle closes.
func newJob() (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, fmt.Errorf("job object: %w", err)
	}
	if err := setJobLimits(job, windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE); err != nil {
		windows.CloseHandle(job)
		return 0, err
	}
	return job, nil
}

// setJobLimits sets the job's limit flags.
func setJobLimits(job windows.Handle, flags uint32) error {
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{}
	info.BasicLimitInformation.LimitFlags = flags
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		return fmt.Errorf("job object limits: %w", err)
	}
	return nil
}
