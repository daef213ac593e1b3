package pluginhost

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// FilePrefix starts the file name of every plugin.
const FilePrefix = "ica-plugin-"

// Candidate is one file found in the plugins folder.
type Candidate struct {
	// Path is the file's absolute path; File its base name.
	Path string `json:"path"`
	File string `json:"file"`
	// Kind and Name come from the file name ica-plugin-<kind>-<name>.
	Kind sdk.Kind `json:"kind"`
	Name string   `json:"name"`
	// Refused says why the plugin will not be started; empty if usable.
	Refused string `json:"refused,omitempty"`
}

// knownKinds are the plugin kinds this core hosts.
var knownKinds = map[sdk.Kind]bool{sdk.KindTransport: true, sdk.KindAuth: true}

// Discover lists the plugins in dir, sorted by file name. Files that are
// not plugins at all (no ica-plugin- prefix) are skipped; plugins that
// cannot be used are listed with the reason. A missing dir is empty.
func Discover(dir string, v Verifier) ([]Candidate, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("read plugins folder: %w", err)
	}
	var out []Candidate
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), FilePrefix) {
			continue
		}
		c := Candidate{Path: filepath.Join(dir, e.Name()), File: e.Name()}
		c.Kind, c.Name, c.Refused = parseFileName(e.Name())
		if c.Refused == "" {
			c.Refused = checkFile(c.Path)
		}
		if c.Refused == "" && v != nil {
			if err := v.Check(c.Path); err != nil {
				c.Refused = err.Error()
			}
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, nil
}

// parseFileName splits ica-plugin-<kind>-<name>, with or without the
// ".exe" of a Windows executable.
func parseFileName(file string) (sdk.Kind, string, string) {
	rest := strings.TrimPrefix(sdk.TrimExe(file), FilePrefix)
	kind, name, ok := strings.Cut(rest, "-")
	if !ok || kind == "" || name == "" {
		return "", "", "file name is not ica-plugin-<kind>-<name>"
	}
	if !knownKinds[sdk.Kind(kind)] {
		return sdk.Kind(kind), name, fmt.Sprintf("unknown plugin kind %q", kind)
	}
	return sdk.Kind(kind), name, ""
}

func checkFile(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return err.Error()
	}
	switch {
	case fi.IsDir():
		return "is a directory"
	case !fi.Mode().IsRegular():
		return "is not a regular file"
	}
	return notRunnable(fi)
}

// Verifier decides whether a plugin file may be started. It is the seam for
// integrity checks; AcceptAll is used until they exist.
type Verifier interface {
	// Check returns an error saying why the plugin at path is refused.
	Check(path string) error
}

// AcceptAll is a Verifier that refuses nothing.
type AcceptAll struct{}

// Check implements Verifier.
func (AcceptAll) Check(string) error { return nil }
