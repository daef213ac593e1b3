// Package safefile reads the files the proxy acts on: its own state in
// $ICA_HOME and a project's .mcp.json. Each is read through the one handle
// that was opened and checked (a regular file, within a size cap, and for
// the user's own files, owned by the user and writable by no one else),
// so what is checked, hashed and parsed is the same bytes: a file swapped
// between a check and a read cannot slip through.
package safefile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrInsecure is a file that others could have written.
var ErrInsecure = errors.New("insecure file")

// Rules say what a file must be to be read.
type Rules struct {
	// Max is the largest size read, in bytes.
	Max int64
	// Private requires the file to be the user's own and writable by no
	// one else: what the user's own configuration and state must be, so
	// that another account on the machine cannot steer the proxy.
	Private bool
}

// Open opens path, following symlinks, for reading, and checks that it is
// a regular file without waiting on a named pipe in its place.
func Open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("%s is not a regular file (%s)", path, kind(fi.Mode()))
	}
	return f, nil
}

// Read returns the content of path, following symlinks, under r. A file
// that does not exist is an error satisfying errors.Is(err,
// fs.ErrNotExist).
func Read(path string, r Rules) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if r.Private {
		if err := private(path, fi); err != nil {
			return nil, err
		}
	}
	if r.Max > 0 && fi.Size() > r.Max {
		return nil, fmt.Errorf("%s is %d bytes, over the %d a file may be", path, fi.Size(), r.Max)
	}
	// The file may grow between Stat and the read: read one byte past the
	// cap to know.
	var src io.Reader = f
	if r.Max > 0 {
		src = io.LimitReader(f, r.Max+1)
	}
	data, err := io.ReadAll(src)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if r.Max > 0 && int64(len(data)) > r.Max {
		return nil, fmt.Errorf("%s grew over the %d bytes a file may be while it was read", path, r.Max)
	}
	return data, nil
}

func kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeDevice != 0, m&os.ModeCharDevice != 0:
		return "a device"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return m.Type().String()
}

// SHA256 is the hex sha256 of the regular file at path, read through one
// handle opened as Open opens it.
func SHA256(path string) (string, error) {
	f, err := Open(path)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
