package e2e

import (
	"os"
	"testing"
)

// killProcess ends pid at once, as a crash would (SIGKILL on unix).
func killProcess(t *testing.T, pid int) {
	t.Helper()
	p, err := os.FindProcess(pid)
	if err == nil {
		err = p.Kill()
	}
	if err != nil {
		t.Fatalf("kill %d: %v", pid, err)
	}
}
