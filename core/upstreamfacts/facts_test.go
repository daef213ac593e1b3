package upstreamfacts

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestMemo(t *testing.T) {
	dir := t.TempDir()
	m := New(dir)
	if got := m.Get("http://127.0.0.1:1/mcp"); got != "" {
		t.Fatalf("empty memo gave %q", got)
	}
	if err := m.Set("http://127.0.0.1:1/mcp", "sse"); err != nil {
		t.Fatal(err)
	}
	if got := New(dir).Get("http://127.0.0.1:1/mcp"); got != "sse" {
		t.Fatalf("a new Memo on the same dir gave %q, want sse", got)
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("memo file: %v, mode %v (want private)", err, fi.Mode())
	}
	// A corrupt file is a lost cache, not an error that stops anything.
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("{nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := m.Get("http://127.0.0.1:1/mcp"); got != "" {
		t.Fatalf("corrupt memo gave %q", got)
	}
	if err := m.Set("http://127.0.0.1:2/mcp", "http"); err != nil {
		t.Fatal(err)
	}
	if got := m.Get("http://127.0.0.1:2/mcp"); got != "http" {
		t.Fatalf("after rewriting a corrupt memo: %q", got)
	}

	if _, ok := m.Offers("a@1"); ok {
		t.Fatal("unknown server has offers")
	}
	if err := m.SetOffers("a@1", Offers{Prompts: true}); err != nil {
		t.Fatal(err)
	}
	if o, ok := New(dir).Offers("a@1"); !ok || o != (Offers{Prompts: true}) {
		t.Fatalf("offers %+v %v", o, ok)
	}
	if got := m.Get("http://127.0.0.1:2/mcp"); got != "http" {
		t.Fatalf("offers overwrote transports: %q", got)
	}
}

// The kind of token a server takes is kept per server key, beside the
// other facts, and read back by another Memo on the same file.
func TestTokenKind(t *testing.T) {
	dir := t.TempDir()
	m := New(dir)
	if err := m.Set("http://127.0.0.1:1/mcp", "sse"); err != nil {
		t.Fatal(err)
	}
	if kind, _ := m.TokenKind("docs@f1"); kind != "" {
		t.Fatalf("empty memo gave %q", kind)
	}
	if err := m.SetTokenKind("docs@f1", "Bearer", "refused a DPoP token"); err != nil {
		t.Fatal(err)
	}
	other := New(dir)
	if kind, why := other.TokenKind("docs@f1"); kind != "Bearer" || why != "refused a DPoP token" {
		t.Fatalf("got %q (%q)", kind, why)
	}
	if kind, _ := other.TokenKind("docs@f2"); kind != "" {
		t.Fatalf("an edited entry (another fingerprint) gave %q", kind)
	}
	if got := other.Get("http://127.0.0.1:1/mcp"); got != "sse" {
		t.Fatalf("the transport was lost: %q", got)
	}
}

// Two Memos on one file (two processes) lose none of each other's writes.
func TestConcurrentWritersLoseNothing(t *testing.T) {
	dir := t.TempDir()
	a, b := New(dir), New(dir)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 50 {
			if err := a.SetTokenKind("a"+strconv.Itoa(i), "Bearer", "x"); err != nil {
				t.Error(err)
			}
		}
	}()
	for i := range 50 {
		if err := b.SetTokenKind("b"+strconv.Itoa(i), "DPoP", "y"); err != nil {
			t.Error(err)
		}
	}
	<-done
	for i := range 50 {
		if k, _ := a.TokenKind("a" + strconv.Itoa(i)); k != "Bearer" {
			t.Fatalf("a%d lost", i)
		}
		if k, _ := a.TokenKind("b" + strconv.Itoa(i)); k != "DPoP" {
			t.Fatalf("b%d lost", i)
		}
	}
}
