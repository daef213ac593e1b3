//go:build linux

package pluginhost

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Where a hard link cannot be made (another filesystem here; a disk
// without links elsewhere), the plugin is a copy: the same bytes, runnable,
// renamed into place. Windows installs take this path across drives.
func TestInstallAsCopiesAcrossFilesystems(t *testing.T) {
	src := filepath.Join(t.TempDir(), "ica-mcp-proxy")
	want := []byte("#!/bin/sh\necho plugin\n")
	if err := os.WriteFile(src, want, 0o755); err != nil {
		t.Fatal(err)
	}
	other, err := os.MkdirTemp("/dev/shm", "ica-install-")
	if err != nil {
		t.Skip("no /dev/shm here:", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(other) })
	var a, b syscall.Stat_t
	if syscall.Stat(src, &a) != nil || syscall.Stat(other, &b) != nil || a.Dev == b.Dev {
		t.Skip("/dev/shm is on the same filesystem as the temporary folder")
	}
	dst, linked, err := InstallAs(src, filepath.Join(other, "plugins"), "ica-plugin-transport-stdio")
	if err != nil {
		t.Fatal(err)
	}
	if linked {
		t.Fatal("a hard link across filesystems")
	}
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the copy: %q, %v", got, err)
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm()&0o100 == 0 {
		t.Fatalf("the copy is not executable: %v", fi.Mode())
	}
	// Installing again over the copy replaces it in place.
	if _, _, err := InstallAs(src, filepath.Join(other, "plugins"), "ica-plugin-transport-stdio"); err != nil {
		t.Fatal(err)
	}
}
