package config

import (
	"context"
	"crypto/sha256"
	"os"
	"time"
)

// Watch calls onChange whenever the content of a config file changes, is
// created or is removed, until ctx ends. It polls: config files are few and
// small, a stat per second costs nothing, and polling sees a file that did
// not exist at start, an editor's rename-over-write and a symlink swap alike,
// which directory notifications make fiddly.
func Watch(ctx context.Context, o Options, every time.Duration, onChange func()) {
	last := snapshot(o)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if now := snapshot(o); now != last {
			last = now
			onChange()
		}
	}
}

type fileState struct {
	path string
	sum  [sha256.Size]byte
	ok   bool
}

// snapshot identifies the files Load would read by their content, so a
// touch without a change does not reload.
func snapshot(o Options) [2]fileState {
	project, home := Paths(o)
	var out [2]fileState
	for i, p := range []string{project, home} {
		out[i].path = p
		if data, err := os.ReadFile(p); err == nil {
			out[i].ok = true
			out[i].sum = sha256.Sum256(data)
		}
	}
	return out
}
