// Package trust is the project trust gate: a cloned repository's
// .mcp.json may name commands, and none of them runs until the user trusts
// that exact file. Trust is bound to the sha256 of the file's content,
// read through symlinks, so any edit (a new server, other args or env) or
// a symlink pointed elsewhere needs trusting again. The records live in
// $ICA_HOME/mcp-trust.json.
package trust

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/atomicfile"
)

// FileName is the trust file's name in $ICA_HOME, as the original named it.
const FileName = "mcp-trust.json"

const fileVersion = 1

// Store is the trust file of one $ICA_HOME.
type Store struct {
	path string
	mu   sync.Mutex
}

type record struct {
	SHA256    string    `json:"sha256"`
	TrustedAt time.Time `json:"trusted_at"`
}

type file struct {
	Version  int               `json:"version"`
	Projects map[string]record `json:"projects"`
}

// New returns the store kept in dir.
func New(dir string) *Store { return &Store{path: filepath.Join(dir, FileName)} }

// Status is a project file's trust.
type Status struct {
	// Path is the file as given; Real is it with symlinks resolved, which
	// is what trust is recorded for.
	Path string `json:"path"`
	Real string `json:"real_path"`
	// SHA256 is the content's hash now; TrustedSHA256 the one trusted, if
	// any.
	SHA256        string `json:"sha256"`
	TrustedSHA256 string `json:"trusted_sha256,omitempty"`
	Trusted       bool   `json:"trusted"`
	// Changed says the file was trusted once and has changed since.
	Changed bool `json:"changed,omitempty"`
}

// ProjectFile resolves a path argument: a .mcp.json, or a folder holding
// one.
func ProjectFile(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		abs = filepath.Join(abs, ".mcp.json")
	}
	return abs, nil
}

// Hash reads the file through its symlinks and returns where it really is
// and the sha256 of its content.
func Hash(path string) (real, sum string, err error) {
	real, err = filepath.EvalSymlinks(path)
	if err != nil {
		return "", "", err
	}
	data, err := os.ReadFile(real)
	if err != nil {
		return "", "", err
	}
	h := sha256.Sum256(data)
	return real, hex.EncodeToString(h[:]), nil
}

// Check reports whether the project file at path is trusted as it is now.
func (s *Store) Check(path string) (Status, error) {
	real, sum, err := Hash(path)
	if err != nil {
		return Status{Path: path}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.load()
	if err != nil {
		return Status{Path: path, Real: real, SHA256: sum}, err
	}
	rec, ok := f.Projects[real]
	st := Status{Path: path, Real: real, SHA256: sum, TrustedSHA256: rec.SHA256}
	st.Trusted = ok && rec.SHA256 == sum
	st.Changed = ok && !st.Trusted
	return st, nil
}

// Trust records the project file's content as trusted.
func (s *Store) Trust(path string) (Status, error) {
	real, sum, err := Hash(path)
	if err != nil {
		return Status{Path: path}, err
	}
	err = s.update(func(f *file) {
		f.Projects[real] = record{SHA256: sum, TrustedAt: time.Now().UTC().Truncate(time.Second)}
	})
	return Status{Path: path, Real: real, SHA256: sum, TrustedSHA256: sum, Trusted: err == nil}, err
}

// Untrust forgets the project file; it reports whether it was trusted.
func (s *Store) Untrust(path string) (bool, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		real = path
	}
	var had bool
	err = s.update(func(f *file) {
		_, had = f.Projects[real]
		delete(f.Projects, real)
	})
	return had, err
}

func (s *Store) update(change func(*file)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.load()
	if err != nil {
		return err
	}
	change(f)
	return atomicfile.WriteJSON(s.path, f)
}

func (s *Store) load() (*file, error) {
	f := &file{Version: fileVersion, Projects: map[string]record{}}
	if _, err := atomicfile.ReadJSON(s.path, f); err != nil {
		// Never overwrite records that cannot be read.
		return nil, fmt.Errorf("trust store: %w", err)
	}
	if f.Version > fileVersion {
		return nil, fmt.Errorf("trust store %s has format version %d; this ica-mcp-proxy writes version %d", s.path, f.Version, fileVersion)
	}
	f.Version = fileVersion
	if f.Projects == nil {
		f.Projects = map[string]record{}
	}
	return f, nil
}
