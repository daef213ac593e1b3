//go:build unix

package trust

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A project file that is not a regular file is refused, never waited on.
func TestHashRefusesWhatIsNotAFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, ".mcp.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Hash(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Hash of a named pipe: %v", err)
	}
}
