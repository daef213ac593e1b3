// Package filelock is the exclusive lock that processes sharing $ICA_HOME
// take around a read-modify-write of one of its files: flock(2) on unix,
// LockFileEx on Windows, both through github.com/gofrs/flock.
package filelock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/gofrs/flock"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/safefile"
)

// Acquire takes the lock kept in the file at path (made, private, when
// missing), trying again every poll until ctx ends. release drops it.
func Acquire(ctx context.Context, path string, poll time.Duration) (release func(), err error) {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		// Made before it is locked, and private where modes mean
		// nothing (Windows), like the state it guards.
		if f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600); err == nil {
			_ = f.Close()
			if err := safefile.MakePrivate(path); err != nil {
				return nil, fmt.Errorf("lock %s: %w", path, err)
			}
		}
	}
	fl := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o600))
	locked, err := fl.TryLockContext(ctx, poll)
	if err != nil {
		_ = fl.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !locked {
		_ = fl.Close()
		return nil, fmt.Errorf("lock %s: not taken", path)
	}
	return func() { _ = fl.Unlock() }, nil
}
