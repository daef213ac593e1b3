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
	if _, err := s.Trust(link); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Check(link); !st.Trusted || st.Real != real {
		t.Fatalf("after trust: %+v", st)
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
	if _, err := s.Trust(link); err == nil {
		t.Fatal("a corrupt trust store was overwritten")
	}
}
