// Package atomicfile replaces files so that a reader, or a process that
// dies midway, sees the old content or the new, never a mix: the content
// goes to a temporary file beside the target, is synced, and is renamed
// over it; the rename is synced too.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/safefile"
)

// Write replaces path with data. The file gets mode perm (os.CreateTemp
// makes it 0600 first, so it is never more open than asked).
func Write(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, nothing to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if perm&0o077 == 0 {
		// Windows ignores the mode: the file gets an access list for
		// the user alone instead (a no-op on unix).
		if err := safefile.MakePrivate(tmp.Name()); err != nil {
			tmp.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
