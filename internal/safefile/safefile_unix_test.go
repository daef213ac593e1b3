//go:build unix

package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A named pipe put where a file was expected would block a plain open
// until someone writes to it.
func TestReadRefusesANamedPipe(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(fifo, Rules{Max: 100}); err == nil || !strings.Contains(err.Error(), "not a regular file (a named pipe)") {
		t.Fatalf("Read of a named pipe: %v", err)
	}
}

func TestPrivate(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f.json")
	if err := os.WriteFile(file, []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for mode, ok := range map[os.FileMode]bool{0o600: true, 0o644: true, 0o400: true, 0o620: false, 0o602: false, 0o666: false} {
		if err := os.Chmod(file, mode); err != nil {
			t.Fatal(err)
		}
		_, err := Read(file, Rules{Private: true})
		if ok != (err == nil) || (!ok && !errors.Is(err, ErrInsecure)) {
			t.Errorf("mode %04o: %v", mode, err)
		}
		if _, err := Read(file, Rules{}); err != nil {
			t.Errorf("mode %04o, not private: %v", mode, err)
		}
	}
	if os.Geteuid() == 0 {
		// Root can give the file away and show that another's file is refused.
		_ = os.Chmod(file, 0o600)
		if err := os.Chown(file, 4242, 4242); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(file, Rules{Private: true}); !errors.Is(err, ErrInsecure) || !strings.Contains(err.Error(), "uid 4242") {
			t.Errorf("another user's file: %v", err)
		}
	}
}
