package toolcache

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestCache(t *testing.T) {
	dir := t.TempDir()
	tools := []json.RawMessage{json.RawMessage(`{"name":"echo", "description":"a <b> & c"}`)}
	c := New(dir)
	if _, ok := c.Get("demo", "fp1"); ok {
		t.Fatal("an empty cache has demo")
	}
	c.Put("demo", "fp1", tools)
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file: %v %v", fi, err)
	}
	// Another proxy, later, with another server of its own.
	other := New(dir)
	if got, ok := other.Get("demo", "fp1"); !ok || string(got[0]) != string(tools[0]) {
		t.Fatalf("read back: %s %v", got, ok)
	}
	if _, ok := other.Get("demo", "fp2"); ok {
		t.Fatal("an edited entry (another fingerprint) used the cached list")
	}
	other.Put("fs", "x", tools)
	c.Put("demo", "fp1", []json.RawMessage{json.RawMessage(`{"name":"echo2"}`)})
	if err := other.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	third := New(dir)
	if _, ok := third.Get("fs", "x"); !ok {
		t.Fatal("one proxy's write dropped another's entry")
	}
	if got, _ := third.Get("demo", "fp1"); string(got[0]) != `{"name":"echo2"}` {
		t.Fatalf("demo: %s", got)
	}
	// A broken file is a cold cache, not an error.
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := New(dir).Get("demo", "fp1"); ok {
		t.Fatal("a broken file gave a list")
	}
}

// A lazily started server's prompts and resources are kept beside its
// tools; listing one kind keeps the others, and an edited entry drops all.
func TestOtherLists(t *testing.T) {
	dir := t.TempDir()
	tools := []json.RawMessage{json.RawMessage(`{"name":"echo"}`)}
	prompts := []json.RawMessage{json.RawMessage(`{"name":"greet"}`)}
	c := New(dir)
	c.PutList("demo", "fp1", "prompts", prompts)
	if c.Has("demo", "fp1") {
		t.Fatal("prompts alone made the tools known")
	}
	c.Put("demo", "fp1", tools)
	c.PutList("demo", "fp1", "resources", []json.RawMessage{})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	again := New(dir)
	if got, ok := again.GetList("demo", "fp1", "prompts"); !ok || len(got) != 1 || string(got[0]) != `{"name":"greet"}` {
		t.Fatalf("prompts: %s %v", got, ok)
	}
	if got, ok := again.GetList("demo", "fp1", "resources"); !ok || len(got) != 0 {
		t.Fatalf("an empty resource list is a list: %s %v", got, ok)
	}
	if _, ok := again.GetList("demo", "fp1", "resourceTemplates"); ok {
		t.Fatal("templates never listed are known")
	}
	if !again.Has("demo", "fp1") {
		t.Fatal("tools lost by listing the prompts")
	}
	again.Put("demo", "fp2", tools)
	if _, ok := again.GetList("demo", "fp2", "prompts"); ok {
		t.Fatal("an edited entry kept the old entry's prompts")
	}
}
