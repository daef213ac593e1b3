package stdio

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// A command is never found through a relative PATH entry, which would
// find it in the folder the server runs in (a cloned repository's): the
// lookup refuses as exec.LookPath does with ErrDot, naming the entry.
func TestLookPathRefusesRelativeEntries(t *testing.T) {
	project := t.TempDir()
	bin := t.TempDir()
	for _, dir := range []string{project, filepath.Join(project, "node_modules", ".bin"), bin} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "tool"), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{".", ":" + bin, "node_modules/.bin:" + bin, "." + string(filepath.ListSeparator) + bin} {
		_, err := unixLookup().find("tool", path, project)
		if !errors.Is(err, exec.ErrDot) {
			t.Errorf("PATH %q: %v, want ErrDot", path, err)
		}
	}
	if got, err := unixLookup().find("tool", bin+":.", project); err != nil || got != filepath.Join(bin, "tool") {
		t.Errorf("an absolute entry first: %q, %v", got, err)
	}
	if got, err := unixLookup().find("./tool", bin, project); err != nil || got != filepath.Join(project, "tool") {
		t.Errorf("a command named by its path: %q, %v", got, err)
	}
}
