//go:build !windows

package pluginhost

import "os"

// notRunnable says why the file fi cannot be started, or "": unix runs
// files with the execute bit.
func notRunnable(fi os.FileInfo) string {
	if fi.Mode().Perm()&0o100 == 0 {
		return "is not executable"
	}
	return ""
}
