//go:build !windows

package stdio

import "os/exec"

// hostLookup is the unix command search. Windows' (windowsLookup) makes
// no system call of its own, so the Linux tests run it directly.
func hostLookup(map[string]string) lookup {
	return unixLookup()
}

// prepareCommand has nothing to do on unix: exec runs any executable file.
func prepareCommand(*exec.Cmd) error { return nil }
