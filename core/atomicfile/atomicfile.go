// Package atomicfile replaces files so that a reader, or a process that
// dies midway, sees the old content or the new, never a mix: the content
// goes to a temporary file beside the target, is synced, and is renamed
// over it; the rename is synced too.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/safefile"
)

// Write replaces path with data. The file gets mode perm (os.CreateTemp
// makes it 0600 first, so it is never more open than asked).
func Write(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := createTemp(dir, filepath.Base(path), perm&0o077 == 0)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // after a successful rename, nothing to remove
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
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
		_ = d.Close()
	}
	return nil
}

// createTemp makes a new file beside the target. A private one (the
// target's mode lets no one else in) is private from the moment it exists:
// mode 0600, or on Windows, where the mode means nothing, an access list
// for the user alone, given at creation (safefile.CreatePrivate).
func createTemp(dir, base string, private bool) (*os.File, error) {
	if !private {
		return os.CreateTemp(dir, base+".*.tmp")
	}
	for range 100 {
		var b [6]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		f, err := safefile.CreatePrivate(filepath.Join(dir, base+"."+hex.EncodeToString(b[:])+".tmp"))
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("no free temporary name for %s in %s", base, dir)
}
