package safefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Exposure says how other users of the machine can get at path, whose
// FileInfo is fi: problem is "" when they cannot, else a phrase that
// follows the path ("is writable by other users (mode 0777)"), and fix is
// what the user can run about it. secret counts reading too (tokens,
// keys); otherwise only writing (what steers the proxy) and ownership
// count. Unix reads owner and mode bits; Windows reads the owner and DACL
// (exposure_windows.go).
func Exposure(path string, fi os.FileInfo, secret bool) (problem, fix string) {
	return exposure(path, fi, secret)
}

// Check is Exposure as an error wrapping ErrInsecure, or nil.
func Check(path string, fi os.FileInfo, secret bool) error {
	if problem, fix := Exposure(path, fi, secret); problem != "" {
		return fmt.Errorf("%w: %s %s; run: %s", ErrInsecure, path, problem, fix)
	}
	return nil
}

// MkdirPrivate makes dir and any missing parents 0700, as os.MkdirAll
// does; on Windows the first folder it creates gets an access list of its
// own for the user alone (MakePrivate), which what is made in it inherits.
func MkdirPrivate(dir string) error {
	top := ""
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			break
		}
		top = d
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if top != "" {
		return MakePrivate(top)
	}
	return nil
}
