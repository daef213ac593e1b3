package configview_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/config"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/configview"
)

// folders is a project folder and a home, with the home's servers.
type folders struct{ project, home string }

func newFolders(t *testing.T, servers map[string]any) folders {
	t.Helper()
	f := folders{project: t.TempDir(), home: t.TempDir()}
	f.write(t, servers)
	return f
}

func (f folders) write(t *testing.T, servers map[string]any) {
	t.Helper()
	data, err := json.Marshal(map[string]any{"mcpServers": servers})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.home, config.HomeFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// options are a session's, with env as its environment.
func (f folders) options(env map[string]string) config.Options {
	return config.Options{Cwd: f.project, Home: f.home, LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}}
}

// watch subscribes s until the test ends; each change arrives on the
// channel.
func watch(t *testing.T, s *configview.Source) <-chan struct{} {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch := make(chan struct{}, 8)
	go s.Watch(ctx, 5*time.Millisecond, nil, func() { ch <- struct{}{} })
	return ch
}

func waitChange(t *testing.T, ch <-chan struct{}, who string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s was not told of the change", who)
	}
}

// sharedOnceWatched waits until the watch (started on its own goroutine)
// runs, and a and b load the same configuration: unwatched, each Load
// reads the files.
func sharedOnceWatched(t *testing.T, a, b *configview.Source) *config.Config {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if x := a.Load(); b.Load() == x {
			return x
		}
	}
	t.Fatal("the sessions never shared a read")
	return nil
}

// reads is how often the view of folder was read, or -1 with no view.
func reads(r *configview.Registry, folder string) int {
	for _, v := range r.Status() {
		if v.Folder == folder {
			return v.Reads
		}
	}
	return -1
}

// Sessions of one project read its files once, and once per change, and
// every one is told of the change and sees the new configuration.
func TestSessionsShareOneRead(t *testing.T) {
	f := newFolders(t, map[string]any{"one": map[string]any{"command": "one"}})
	r := configview.New()
	a, b := r.For(f.options(nil)), r.For(f.options(nil))
	defer a.Close()
	defer b.Close()
	a.Load()
	changedA := watch(t, a)
	changedB := watch(t, b)
	first := sharedOnceWatched(t, a, b)
	before := reads(r, f.project)
	for range 3 {
		if a.Load() != first || b.Load() != first {
			t.Fatal("a session read the files again")
		}
	}
	if n := reads(r, f.project); n != before || first.Server("one") == nil {
		t.Fatalf("%d reads after more Loads; want %d", n, before)
	}

	time.Sleep(20 * time.Millisecond) // a modification time the poller can tell apart
	f.write(t, map[string]any{"one": map[string]any{"command": "one"}, "two": map[string]any{"command": "two"}})
	waitChange(t, changedA, "the first session")
	waitChange(t, changedB, "the second session")
	gotA, gotB := a.Load(), b.Load()
	if gotA != gotB || gotA.Server("two") == nil {
		t.Fatalf("after the change: %p %p, two=%v", gotA, gotB, gotA.Server("two"))
	}
	if n := reads(r, f.project); n != before+1 {
		t.Fatalf("%d reads after one change; want %d", n, before+1)
	}
}

// A configuration read before the view watched its files is not shared
// once it does: a change in between reaches the sessions that follow.
func TestReadBeforeTheWatchIsNotShared(t *testing.T) {
	f := newFolders(t, map[string]any{"one": map[string]any{"command": "one"}})
	r := configview.New()
	a, b := r.For(f.options(nil)), r.For(f.options(nil))
	defer a.Close()
	defer b.Close()
	if a.Load().Server("one") == nil {
		t.Fatal("the first read")
	}
	f.write(t, map[string]any{"two": map[string]any{"command": "two"}})
	watch(t, a)
	for deadline := time.Now().Add(5 * time.Second); !r.Status()[0].Watched; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the view never watched")
		}
	}
	got := b.Load()
	if a.Load() != got {
		t.Fatal("the sessions do not share a read made once the view watched")
	}
	if got.Server("one") != nil || got.Server("two") == nil {
		t.Fatalf("after a change made before the watch, the sessions share %v", got.Servers)
	}
}

// A session whose environment gives another value to a variable the files
// name reads them for itself, and sees its own value; one that differs
// only on other variables shares.
func TestVariablesTheFilesNameDecide(t *testing.T) {
	f := newFolders(t, map[string]any{"api": map[string]any{"command": "api", "env": map[string]any{"TOKEN": "${TOKEN}"}}})
	r := configview.New()
	a := r.For(f.options(map[string]string{"TOKEN": "a"}))
	b := r.For(f.options(map[string]string{"TOKEN": "b"}))
	c := r.For(f.options(map[string]string{"TOKEN": "a", "OTHER": "x"}))
	unset := r.For(f.options(map[string]string{"OTHER": "x"}))
	for _, s := range []*configview.Source{a, b, c, unset} {
		defer s.Close()
	}
	a.Load()
	watch(t, a)
	shared := sharedOnceWatched(t, a, c)
	if got := b.Load(); got == shared || got.Server("api").Env["TOKEN"] != "b" {
		t.Errorf("a session with TOKEN=b sees TOKEN=%q (shared: %t)", got.Server("api").Env["TOKEN"], got == shared)
	}
	if got := unset.Load(); got == shared || got.Server("api").Env["TOKEN"] == "a" {
		t.Errorf("a session without TOKEN sees TOKEN=%q (shared: %t)", got.Server("api").Env["TOKEN"], got == shared)
	}
	if v := shared.Server("api").Env["TOKEN"]; v != "a" {
		t.Errorf("the view's TOKEN is %q; want a", v)
	}
}

// The view goes with its last session: a later one reads the files
// afresh, and sessions of other folders have views of their own.
func TestViewsLiveWithTheirSessions(t *testing.T) {
	f := newFolders(t, map[string]any{"one": map[string]any{"command": "one"}})
	g := newFolders(t, map[string]any{"other": map[string]any{"command": "other"}})
	r := configview.New()
	a, other := r.For(f.options(nil)), r.For(g.options(nil))
	a.Load()
	if got := other.Load(); got.Server("other") == nil || got.Server("one") != nil {
		t.Fatalf("another folder's session sees %v", got.Servers)
	}
	if st := r.Status(); len(st) != 2 || st[0].Sessions != 1 || st[1].Sessions != 1 {
		t.Fatalf("status: %+v", st)
	}
	a.Close()
	a.Close() // twice is once
	if n := reads(r, f.project); n != -1 {
		t.Fatalf("the view outlived its last session (%d reads)", n)
	}
	again := r.For(f.options(nil))
	defer again.Close()
	again.Load()
	if n := reads(r, f.project); n != 1 {
		t.Fatalf("a new session's view: %d reads; want 1", n)
	}
	other.Close()
	if len(r.Status()) != 1 {
		t.Fatalf("status after the other folder's session: %+v", r.Status())
	}
}
