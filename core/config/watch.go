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
func Watch(ctx context.Context, o Options, every time.Duration, onChange func()) {
	last := snapshot(o, [2]fileState{})
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := snapshot(o, last)
		changed := now[0].id() != last[0].id() || now[1].id() != last[1].id()
		last = now
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

// snapshot states the files Load would read; a file whose path, size and
// modification time are those of prev is not read again.
func snapshot(o Options, prev [2]fileState) [2]fileState {
	project, home := Paths(o)
	var out [2]fileState
	for i, p := range []string{project, home} {
		out[i].path = p
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		out[i].size, out[i].mtime = fi.Size(), fi.ModTime()
		if prev[i].ok && prev[i].path == p && prev[i].size == out[i].size && prev[i].mtime.Equal(out[i].mtime) {
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
