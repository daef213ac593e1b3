//go:build !linux

package e2e

import (
	"testing"
	"time"
)

// The tests that watch the proxy's processes read /proc, which only Linux
// has; elsewhere they skip (the Windows suite checks for survivors its
// own way).

func readProcs() map[int]proc { return nil }

func descendants(int) []proc { return nil }

func alive(int) bool { return false }

func waitGone(*testing.T, []proc, time.Duration) {}

func waitDescendants(t *testing.T, _ int, _ ...string) []proc {
	t.Helper()
	t.Skip("watching processes reads /proc: Linux only")
	return nil
}
