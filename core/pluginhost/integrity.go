package pluginhost

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/atomicfile"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/safefile"
)

// LockFileName is the file, in $ICA_HOME beside the plugins folder, that
// records the sha256 of every installed plugin: outside the folder, so a
// process that can write a plugin cannot also vouch for it there.
const LockFileName = "plugins.lock"

// Integrity is the Verifier the proxy runs with: the plugins folder and
// each plugin must be the user's and not writable by group or others, no
// plugin may be a symlink leading out of the folder, and each must match
// the sha256 recorded when it was installed.
type Integrity struct {
	Dir  string
	Lock string
	mu   sync.Mutex
}

// NewIntegrity checks the plugins in dir against lock.
func NewIntegrity(dir, lock string) *Integrity { return &Integrity{Dir: dir, Lock: lock} }

type lockFile struct {
	Version int                  `json:"version"`
	Plugins map[string]lockEntry `json:"plugins"`
}

type lockEntry struct {
	SHA256      string    `json:"sha256"`
	InstalledAt time.Time `json:"installed_at"`
}

// Check implements Verifier.
func (v *Integrity) Check(path string) error {
	if err := private(v.Dir, "the plugins folder"); err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	dir, err := filepath.EvalSymlinks(v.Dir)
	if err != nil {
		return err
	}
	if filepath.Dir(real) != dir {
		return fmt.Errorf("is a symlink leading out of the plugins folder (to %s)", real)
	}
	if err := private(real, "the file"); err != nil {
		return err
	}
	want, err := v.Recorded(filepath.Base(path))
	if err != nil {
		return err
	}
	if want == "" {
		return errors.New("has no checksum in " + LockFileName + ": install it with `ica-mcp-proxy plugins install`")
	}
	got, err := FileSHA256(real)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("changed since it was installed (sha256 %s…, recorded %s…); reinstall it if you changed it", got[:12], want[:12])
	}
	return nil
}

// private refuses a path that is not the user's or that group or others
// can write to.
func private(path, what string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if problem, fix := safefile.Exposure(path, fi, false); problem != "" {
		return fmt.Errorf("%s %s %s; run: %s", what, path, problem, fix)
	}
	return nil
}

// Recorded returns the sha256 recorded for the plugin file name, or "".
func (v *Integrity) Recorded(file string) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	l, err := v.load()
	if err != nil {
		return "", err
	}
	return l.Plugins[file].SHA256, nil
}

// Record stores the sha256 of an installed plugin.
func (v *Integrity) Record(file, sum string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	l, err := v.load()
	if err != nil {
		return err
	}
	l.Plugins[file] = lockEntry{SHA256: sum, InstalledAt: time.Now().UTC().Truncate(time.Second)}
	return atomicfile.WriteJSON(v.Lock, l)
}

func (v *Integrity) load() (*lockFile, error) {
	l := &lockFile{Version: 1, Plugins: map[string]lockEntry{}}
	if _, err := atomicfile.ReadJSON(v.Lock, l); err != nil {
		return nil, err
	}
	if l.Plugins == nil {
		l.Plugins = map[string]lockEntry{}
	}
	return l, nil
}

// FileSHA256 is the hex sha256 of a file's content (a regular file: a
// named pipe in a plugin's place is refused, not waited on).
func FileSHA256(path string) (string, error) { return safefile.SHA256(path) }

// checksumOf is the recorded sum as bytes, for go-plugin's SecureConfig.
func checksumOf(sum string) []byte {
	b, err := hex.DecodeString(strings.TrimSpace(sum))
	if err != nil {
		return nil
	}
	return b
}
