//go:build unix

package safefile

import (
	"fmt"
	"os"
	"syscall"
)

// private checks that fi, the file at path, belongs to this process's user
// and that neither its group nor others may write it.
func private(path string, fi os.FileInfo) error { return Check(path, fi, false) }

func exposure(path string, fi os.FileInfo, secret bool) (problem, fix string) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Sprintf("belongs to uid %d, not to you (uid %d)", st.Uid, os.Geteuid()),
			"chown it to yourself, or use another ICA_HOME"
	}
	perm := fi.Mode().Perm()
	if secret && perm&0o077 != 0 {
		want := "600"
		if fi.IsDir() {
			want = "700"
		}
		return fmt.Sprintf("can be read or written by other users (mode %04o)", perm), "chmod " + want + " " + path
	}
	if perm&0o022 != 0 {
		return fmt.Sprintf("is writable by other users (mode %04o)", perm), "chmod go-w " + path
	}
	return "", ""
}

// CreatePrivate creates the new file path for reading and writing, mode
// 0600.
func CreatePrivate(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
}

// MakePrivate has nothing to do on unix: the proxy creates its files and
// folders with modes 0600 and 0700.
func MakePrivate(string) error { return nil }

// openNonblock keeps open(2) from waiting on a named pipe; on a regular
// file it changes nothing.
const openNonblock = syscall.O_NONBLOCK

// AccessSummary says in a few words who may use a private file or folder.
func AccessSummary(fi os.FileInfo) string { return fmt.Sprintf("mode %04o", fi.Mode().Perm()) }
