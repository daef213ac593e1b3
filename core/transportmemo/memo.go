// Package transportmemo remembers which transport a remote server speaks,
// so that a server entry with only a url is probed once, not at every
// start. The record lives in $ICA_HOME/mcp-transports.json; it is a cache:
// losing it costs one probe, and a stale entry corrects itself because the
// proxy falls back when the remembered transport is refused.
package transportmemo

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// FileName is the memo's file in $ICA_HOME.
const FileName = "mcp-transports.json"

// Memo is the memo file of one $ICA_HOME. It is safe for concurrent use.
type Memo struct {
	path string
	mu   sync.Mutex
}

type record struct {
	Transport string    `json:"transport"`
	Checked   time.Time `json:"checked"`
}

// New returns the memo kept in dir.
func New(dir string) *Memo {
	return &Memo{path: filepath.Join(dir, FileName)}
}

// Get returns the transport remembered for url, or "".
func (m *Memo) Get(url string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	recs, _ := m.load()
	return recs[url].Transport
}

// Set remembers that url speaks transport. Another process writing at the
// same moment may win; either answer is right.
func (m *Memo) Set(url, transport string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	recs, err := m.load()
	if err != nil {
		recs = map[string]record{} // unreadable: start over
	}
	if recs[url].Transport == transport {
		return nil
	}
	recs[url] = record{Transport: transport, Checked: time.Now().UTC().Truncate(time.Second)}
	data, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(m.path), 0o700); err != nil {
		return fmt.Errorf("remember transport: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(m.path), FileName+".*")
	if err != nil {
		return fmt.Errorf("remember transport: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("remember transport: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("remember transport: %w", err)
	}
	if err := os.Rename(tmp.Name(), m.path); err != nil {
		return fmt.Errorf("remember transport: %w", err)
	}
	return nil
}

func (m *Memo) load() (map[string]record, error) {
	recs := map[string]record{}
	data, err := os.ReadFile(m.path)
	if errors.Is(err, fs.ErrNotExist) {
		return recs, nil
	}
	if err != nil {
		return recs, err
	}
	if err := json.Unmarshal(data, &recs); err != nil {
		return map[string]record{}, fmt.Errorf("%s: %w", m.path, err)
	}
	return recs, nil
}
