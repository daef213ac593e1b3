package pluginhost

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/safefile"
)

// Bundled lists the plugin executables shipped beside the proxy binary in
// dir (the folder of os.Executable), sorted.
func Bundled(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), FilePrefix) && e.Type().IsRegular() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// Install copies the plugin at src into dir, creating dir (0700) if needed.
// The copy is written to a temporary file and renamed into place, so a
// running proxy never starts a half-written plugin.
func Install(src, dir string) (string, error) {
	if err := safefile.MkdirPrivate(dir); err != nil {
		return "", fmt.Errorf("create plugins folder: %w", err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if same, _ := sameFile(src, dst); same {
		return dst, nil
	}
	if err := copyInto(src, dir, dst); err != nil {
		return "", err
	}
	return dst, nil
}

// copyInto copies src to dst (in dir) through a temporary file renamed
// into place, mode 0755.
func copyInto(src, dir, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	tmp, err := os.CreateTemp(dir, ".install-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := io.Copy(tmp, in); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return err
	}
	return nil
}

// InstallAs puts the executable at src into dir under name: a hard link
// where the filesystem allows (linked is true), a copy otherwise. The new
// file replaces an old one by rename, so a running proxy never starts a
// half-written plugin, and a plugin still running from the old file keeps
// it.
func InstallAs(src, dir, name string) (dst string, linked bool, err error) {
	if err := safefile.MkdirPrivate(dir); err != nil {
		return "", false, fmt.Errorf("create plugins folder: %w", err)
	}
	dst = filepath.Join(dir, name)
	if same, _ := sameFile(src, dst); same {
		return dst, true, nil
	}
	tmp := filepath.Join(dir, ".install-link-"+name)
	_ = os.Remove(tmp)
	if err := os.Link(src, tmp); err == nil {
		if err := os.Rename(tmp, dst); err != nil {
			_ = os.Remove(tmp)
			return "", false, err
		}
		return dst, true, nil
	}
	// Another filesystem, or links refused: a copy, renamed into place.
	if err := copyInto(src, dir, dst); err != nil {
		return "", false, err
	}
	return dst, false, nil
}

func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}
