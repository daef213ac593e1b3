package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// What trust covers of a project's own files: what an entry's command and
// arguments name there, as named (a symlink is not resolved away), and
// relative paths that name nothing yet.
func TestLocalFiles(t *testing.T) {
	project := t.TempDir()
	outside := t.TempDir()
	for _, f := range []string{"serve.sh", "serve", "lib/main.js", "key.pem"} {
		p := filepath.Join(project, f)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		_ = os.WriteFile(p, []byte("x"), 0o755)
	}
	_ = os.Mkdir(filepath.Join(project, "src"), 0o755)
	_ = os.Symlink(filepath.Join(outside, "evil.sh"), filepath.Join(project, "linked.sh"))
	_ = os.WriteFile(filepath.Join(outside, "evil.sh"), []byte("x"), 0o755)
	s := &Server{Command: "bash", Args: []string{"serve", "-c", "--config=./lib/main.js", "src", "./linked.sh", "./scripts/later.sh", "../outside.sh", "node"},
		OAuth: json.RawMessage(`{"options":{"assertion_file":"` + filepath.Join(project, "key.pem") + `"}}`)}
	got := s.LocalFiles(project)
	want := []string{"key.pem", "lib/main.js", "linked.sh", "scripts/later.sh", "serve"}
	for i := range want {
		want[i] = filepath.Join(project, want[i])
	}
	if !slices.Equal(got, want) {
		t.Fatalf("LocalFiles:\n got %v\nwant %v", got, want)
	}
	if got := (&Server{Command: "./serve.sh"}).LocalFiles(project); !slices.Equal(got, []string{filepath.Join(project, "serve.sh")}) {
		t.Fatalf("a command named by its path: %v", got)
	}
	if got := (&Server{Command: "node"}).LocalFiles(project); len(got) != 0 {
		t.Fatalf("a command found on PATH is no project file: %v", got)
	}
}

// On Windows "./serve" may run serve.com, serve.exe, serve.bat or
// serve.cmd: trust records each (present or absent), so one added or
// changed after trust is a change.
func TestWithPathext(t *testing.T) {
	got := withPathext(`C:\p\serve`, ".EXE;cmd;;")
	want := []string{`C:\p\serve`, `C:\p\serve.exe`, `C:\p\serve.cmd`}
	if !slices.Equal(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
	if got := withPathext("x", ""); len(got) != 5 || got[4] != "x.cmd" {
		t.Errorf("Windows' default PATHEXT: %q", got)
	}
}
