package cli

import (
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// claimStdout returns a file for the real stdout and makes stderr the
// process's standard output from now on (os.Stdout, and the handle that
// children inherit), so that nothing else reaches the JSON-RPC stream.
func claimStdout() (*os.File, error) {
	out := os.Stdout
	if err := windows.SetStdHandle(windows.STD_OUTPUT_HANDLE, windows.Handle(os.Stderr.Fd())); err != nil {
		return nil, fmt.Errorf("redirect stdout: %w", err)
	}
	os.Stdout = os.Stderr
	return out, nil
}
