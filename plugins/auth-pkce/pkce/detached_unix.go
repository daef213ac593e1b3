//go:build !windows

package pkce

import "os/exec"

// startDetached starts the opener and reaps it whenever it ends.
func startDetached(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
