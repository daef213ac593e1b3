package atomicfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The proxy's small state files ($ICA_HOME/mcp-*.json, plugins.lock) are
// indented JSON, private to the user, replaced whole.

// WriteJSON replaces path with v as indented JSON, mode 0600, creating its
// folder (0700) if needed.
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return Write(path, append(data, '\n'), 0o600)
}

// ReadJSON decodes path into v; found is false when the file does not
// exist (v is then untouched). A file that is not JSON is an error that
// says to fix or move it: the caller must not write over it.
func ReadJSON(path string, v any) (found bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("%s is not valid JSON (%v); fix or move it away", path, err)
	}
	return true, nil
}
