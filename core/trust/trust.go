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
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/atomicfile"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/safefile"
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
	// Files are the project's own files its entries run or read
	// (./serve.sh), with their sha256 when trusted.
	Files map[string]string `json:"files,omitempty"`
}

// NoFile is the hash recorded for a folder trusted without a .mcp.json:
// the home servers may run in it, and a .mcp.json that appears later
// needs trusting.
const NoFile = "none"

// maxProjectFile is the largest .mcp.json read, as the config loader
// reads it.
const maxProjectFile = 16 << 20

type file struct {
	Version  int               `json:"version"`
	Projects map[string]record `json:"projects"`
}

// New returns the store kept in dir.
func New(dir string) *Store { return &Store{path: filepath.Join(dir, FileName)} }

// Status is a project file's trust.
type Status struct {
	// Path is the file as given; Real is it in its folder with symlinks
	// resolved, which is what trust is recorded for.
	Path string `json:"path"`
	Real string `json:"real_path"`
	// SHA256 is the content's hash now; TrustedSHA256 the one trusted, if
	// any.
	SHA256        string `json:"sha256"`
	TrustedSHA256 string `json:"trusted_sha256,omitempty"`
	Trusted       bool   `json:"trusted"`
	// Changed says the file was trusted once and has changed since.
	Changed bool `json:"changed,omitempty"`
	// ChangedFiles are the project's files trusted with it (scripts its
	// entries run) that changed or went since; any makes it untrusted.
	ChangedFiles []string `json:"changed_files,omitempty"`
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
// and the sha256 of its content (NoFile when there is none), reading it
// once through one checked handle.
func Hash(path string) (real, sum string, err error) {
	data, err := safefile.Read(path, safefile.Rules{Max: maxProjectFile})
	if errors.Is(err, fs.ErrNotExist) {
		real, err := realPath(path)
		return real, NoFile, err
	}
	if err != nil {
		return "", "", err
	}
	h := sha256.Sum256(data)
	real, err = realPath(path)
	return real, hex.EncodeToString(h[:]), err
}

// realPath is where trust is recorded for the project file at path: its
// folder with symlinks resolved, and the file's own name. The file itself
// is not resolved: trust belongs to the folder whose entries run (their
// ./scripts, the home servers' working folder), so a repository whose
// .mcp.json is a symlink to a trusted project's file is not trusted with
// it; a symlinked .mcp.json is trusted for its content, read through the
// link, like any other.
func realPath(path string) (string, error) {
	dir, err := filepath.EvalSymlinks(filepath.Dir(path))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.Base(path)), nil
}

// Check reports whether the project file at path is trusted as it is now.
func (s *Store) Check(path string) (Status, error) {
	real, sum, err := Hash(path)
	if err != nil {
		return Status{Path: path}, err
	}
	return s.check(path, real, sum)
}

// CheckSum is Check for content already read: sum is the sha256 of the
// bytes the caller parsed (NoFile for none), so what is trusted is what is
// used.
func (s *Store) CheckSum(path, sum string) (Status, error) {
	real, err := realPath(path)
	if err != nil {
		return Status{Path: path}, err
	}
	return s.check(path, real, sum)
}

func (s *Store) check(path, real, sum string) (Status, error) {
	s.mu.Lock()
	f, err := s.load()
	s.mu.Unlock()
	if err != nil {
		return Status{Path: path, Real: real, SHA256: sum}, err
	}
	rec, ok := f.Projects[real]
	st := Status{Path: path, Real: real, SHA256: sum, TrustedSHA256: rec.SHA256}
	if ok && rec.SHA256 == sum {
		for _, file := range slices.Sorted(maps.Keys(rec.Files)) {
			// Hashed through the path as written, so a symlink pointed
			// elsewhere, or a file that appeared, is a change.
			if now, err := hashFile(file); err != nil || now != rec.Files[file] {
				st.ChangedFiles = append(st.ChangedFiles, file)
			}
		}
	}
	st.Trusted = ok && rec.SHA256 == sum && len(st.ChangedFiles) == 0
	st.Changed = ok && !st.Trusted
	return st, nil
}

// Trust records the project file's content as trusted, with the content
// of files, the project's own files that its entries run or read.
func (s *Store) Trust(path string, files []string) (Status, error) {
	real, sum, err := Hash(path)
	if err != nil {
		return Status{Path: path}, err
	}
	rec := record{SHA256: sum, TrustedAt: time.Now().UTC().Truncate(time.Second)}
	for _, file := range files {
		h, err := hashFile(file)
		if err != nil {
			return Status{Path: path, Real: real, SHA256: sum}, err
		}
		if rec.Files == nil {
			rec.Files = map[string]string{}
		}
		rec.Files[file] = h
	}
	err = s.update(func(f *file) { f.Projects[real] = rec })
	return Status{Path: path, Real: real, SHA256: sum, TrustedSHA256: sum, Trusted: err == nil}, err
}

// hashFile is the sha256 of a regular file, read through one handle
// (safefile.Open: a named pipe put in its place is refused, not waited
// on); a file that is not there hashes as NoFile.
func hashFile(path string) (string, error) {
	sum, err := safefile.SHA256(path)
	if errors.Is(err, fs.ErrNotExist) {
		return NoFile, nil
	}
	return sum, err
}

// Untrust forgets the project file; it reports whether it was trusted.
func (s *Store) Untrust(path string) (bool, error) {
	real, err := realPath(path)
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
