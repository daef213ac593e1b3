//go:build unix

package cli

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// claimStdout returns a file for the real stdout and points fd 1 at
// stderr, so that nothing else written to fd 1 (a stray print, a library,
// a child that inherits it) reaches the JSON-RPC stream.
func claimStdout() (*os.File, error) {
	fd, err := syscall.Dup(1)
	if err != nil {
		return nil, fmt.Errorf("dup stdout: %w", err)
	}
	syscall.CloseOnExec(fd)
	if err := unix.Dup2(2, 1); err != nil {
		return nil, fmt.Errorf("redirect stdout: %w", err)
	}
	return os.NewFile(uintptr(fd), "stdout"), nil
}
