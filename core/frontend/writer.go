package frontend

import (
	"bufio"
	"io"
	"sync"
)

// lineWriter writes whole messages, one per line, from many goroutines.
type lineWriter struct {
	mu  sync.Mutex
	w   *bufio.Writer
	err error
}

func newLineWriter(w io.Writer) *lineWriter {
	return &lineWriter{w: bufio.NewWriterSize(w, 64<<10)}
}

// write sends msg and a newline, flushing at once: the client is waiting.
// After the first error every write fails with it.
func (l *lineWriter) write(parts ...[]byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	for _, p := range parts {
		if _, err := l.w.Write(p); err != nil {
			l.err = err
			return err
		}
	}
	if err := l.w.WriteByte('\n'); err != nil {
		l.err = err
		return err
	}
	l.err = l.w.Flush()
	return l.err
}
