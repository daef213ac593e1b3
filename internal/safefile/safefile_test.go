package safefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.json")
	if err := os.WriteFile(file, []byte(`{"a":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path string
		rules      Rules
		want       string // substring of the error; "" for success
	}{
		{"plain", file, Rules{Max: 100, Private: true}, ""},
		{"through a symlink", link, Rules{Max: 100, Private: true}, ""},
		{"over the cap", file, Rules{Max: 3}, "over the 3 a file may be"},
		{"a directory", dir, Rules{Max: 100}, "not a regular file (a directory)"},
	} {
		data, err := Read(c.path, c.rules)
		switch {
		case c.want == "" && (err != nil || string(data) != `{"a":1}`):
			t.Errorf("%s: %q, %v", c.name, data, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := Read(filepath.Join(dir, "missing"), Rules{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
