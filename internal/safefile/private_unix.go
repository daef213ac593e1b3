//go:build unix

package safefile

import (
	"fmt"
	"os"
	"syscall"
)

// private checks that fi, the file at path, belongs to this process's user
// and that neither its group nor others may write it.
func private(path string, fi os.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%w: %s belongs to uid %d, not to you (uid %d); ica-mcp-proxy reads only your own files there", ErrInsecure, path, st.Uid, os.Geteuid())
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%w: %s is writable by other users (mode %04o); run: chmod go-w %s", ErrInsecure, path, perm, path)
	}
	return nil
}

// openNonblock keeps open(2) from waiting on a named pipe; on a regular
// file it changes nothing.
const openNonblock = syscall.O_NONBLOCK

// ForeignOwner says whether fi belongs to a user other than this
// process's, and names that owner ("uid 1001").
func ForeignOwner(fi os.FileInfo) (owner string, foreign bool) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Sprintf("uid %d", st.Uid), true
	}
	return "", false
}
