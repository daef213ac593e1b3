package stdio

import "sync"

// tail keeps the last n lines written to it, each clipped to width bytes.
type tail struct {
	mu    sync.Mutex
	n     int
	width int
	buf   []string
}

func newTail(n, width int) *tail { return &tail{n: n, width: width} }

func (t *tail) add(line string) {
	if len(line) > t.width {
		line = line[:t.width] + "…"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) == t.n {
		copy(t.buf, t.buf[1:])
		t.buf = t.buf[:t.n-1]
	}
	t.buf = append(t.buf, line)
}

func (t *tail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.buf...)
}
