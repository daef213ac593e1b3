//go:build !unix

package main

import "os/exec"

// ownGroup does nothing here: the server runs are made on Linux CI.
func ownGroup(*exec.Cmd) {}

func stop(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
