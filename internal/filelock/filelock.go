// Package filelock is the exclusive lock that processes sharing $ICA_HOME
// take around a read-modify-write of one of its files: flock(2) on unix,
// LockFileEx on Windows, both through github.com/gofrs/flock.
package filelock

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/gofrs/flock"
)

// Acquire takes the lock kept in the file at path (made, private, when
// missing), trying again every poll until ctx ends. release drops it.
func Acquire(ctx context.Context, path string, poll time.Duration) (release func(), err error) {
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
