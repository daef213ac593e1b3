package atomicfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/jsonrpc"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/safefile"
)

// The proxy's small state files ($ICA_HOME/mcp-*.json, plugins.lock) are
// indented JSON, private to the user, replaced whole.

// MaxStateBytes is the largest state file read (the tool cache of many
// servers is the largest).
const MaxStateBytes = 128 << 20

// WriteJSON replaces path with v as indented JSON, mode 0600, creating its
// folder (0700) if needed.
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := safefile.MkdirPrivate(filepath.Dir(path)); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return Write(path, append(data, '\n'), 0o600)
}

// ReadJSON decodes path into v; found is false when the file does not
// exist (v is then untouched). A file that is not JSON is an error that
// says to fix or move it: the caller must not write over it.
//
// The file must be the user's own and writable by no one else (see
// safefile): another account able to write it could steer the proxy.
func ReadJSON(path string, v any) (found bool, err error) {
	data, err := safefile.Read(path, safefile.Rules{Max: MaxStateBytes, Private: true})
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return true, err
	}
	if jsonrpc.Depth(data, jsonrpc.MaxDepth) > jsonrpc.MaxDepth {
		return true, fmt.Errorf("%s: %w; fix or move it away", path, jsonrpc.ErrTooDeep)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("%s is not valid JSON (%v); fix or move it away", path, err)
	}
	return true, nil
}
