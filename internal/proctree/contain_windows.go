package proctree

import (
	"fmt"

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
	return nil
}
