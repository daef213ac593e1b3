package frontend

import (
	"io"
	"sync"
)

// lineWriter writes whole messages, one per line, from many goroutines.
// Messages written while another write is under way are queued and go out
// together with the next write: under load, many answers share a system
// call; alone, an answer is written at once by its own goroutine.
type lineWriter struct {
	w io.Writer

	mu       sync.Mutex
	pending  []byte
	spare    []byte
	flushing bool
	err      error
}

func newLineWriter(w io.Writer) *lineWriter {
	return &lineWriter{w: w}
}

// write sends the concatenation of parts and a newline. After the first
// error every write fails with it.
func (l *lineWriter) write(parts ...[]byte) error {
	l.mu.Lock()
	if l.err != nil {
		err := l.err
		l.mu.Unlock()
		return err
	}
	for _, p := range parts {
		l.pending = append(l.pending, p...)
	}
	l.pending = append(l.pending, '\n')
	if l.flushing {
		l.mu.Unlock()
		return nil
	}
	l.flushing = true
	for len(l.pending) > 0 && l.err == nil {
		buf := l.pending
		l.pending = l.spare[:0]
		l.mu.Unlock()
		_, err := l.w.Write(buf)
		l.mu.Lock()
		if cap(buf) <= 1<<20 {
			l.spare = buf // keep a modest buffer for reuse
		} else {
			l.spare = nil
		}
		if err != nil {
			l.err = err
		}
	}
	l.flushing = false
	err := l.err
	l.mu.Unlock()
	return err
}
