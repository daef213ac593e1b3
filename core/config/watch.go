package config

import (
	"context"
	"crypto/sha256"
	"os"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/safefile"
)

// Watch calls onChange whenever the content of a config file changes, is
// created or is removed, until ctx ends. It polls: config files are few and
// small, a stat per second costs nothing, and polling sees a file that did
// not exist at start, an editor's rename-over-write and a symlink swap alike,
// which directory notifications make fiddly.
//
// also, when not nil, names more files whose change matters as much (the
// trust file, and the project's own scripts that trust covers): the
// configuration is applied again when one changes, so a script edited
// after trust is blocked at once, not at the next start.
func Watch(ctx context.Context, o Options, every time.Duration, also func() []string, onChange func()) {
	NewWatcher(o, also).Run(ctx, every, onChange)
}

// Watcher is Watch in two steps: NewWatcher states the files at once, so
// that a change made after it, before Run polls, is not missed.
type Watcher struct {
	o    Options
	also func() []string
	last []fileState
}

// NewWatcher states the config files of o and those also names, now.
func NewWatcher(o Options, also func() []string) *Watcher {
	w := &Watcher{o: o, also: also}
	w.last = snapshot(w.paths(), nil)
	return w
}

func (w *Watcher) paths() []string {
	project, home := Paths(w.o)
	out := []string{project, home}
	if w.also != nil {
		out = append(out, w.also()...)
	}
	return out
}

// Run calls onChange whenever a file changed since the last look, until
// ctx ends.
func (w *Watcher) Run(ctx context.Context, every time.Duration, onChange func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := snapshot(w.paths(), w.last)
		changed := len(now) != len(w.last)
		for i := 0; !changed && i < len(now); i++ {
			changed = now[i].path != w.last[i].path || now[i].id() != w.last[i].id()
		}
		w.last = now
		if changed {
			onChange()
		}
	}
}

// fileState identifies one config file: by stat, to notice that it may have
// changed, and by content, to tell whether it did.
type fileState struct {
	path  string
	size  int64
	mtime time.Time
	sum   [sha256.Size]byte
	ok    bool
}

// id is what a change is judged by: the path and the content, so a touch
// without a change does not reload.
func (f fileState) id() [sha256.Size + 1]byte {
	var out [sha256.Size + 1]byte
	if f.ok {
		out[0] = 1
		copy(out[1:], f.sum[:])
	}
	return out
}

// snapshot states the files at paths; a file whose path, size and
// modification time are those of its state in prev is not read again.
func snapshot(paths []string, prev []fileState) []fileState {
	out := make([]fileState, len(paths))
	for i, p := range paths {
		out[i].path = p
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		out[i].size, out[i].mtime = fi.Size(), fi.ModTime()
		if i < len(prev) && prev[i].ok && prev[i].path == p && prev[i].size == out[i].size && prev[i].mtime.Equal(out[i].mtime) {
			out[i].sum, out[i].ok = prev[i].sum, true
			continue
		}
		if data, err := safefile.Read(p, safefile.Rules{Max: maxFileBytes}); err == nil {
			out[i].ok = true
			out[i].sum = sha256.Sum256(data)
		}
	}
	return out
}
