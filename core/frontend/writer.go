package frontend

import (
	"io"
	"sync"
)

// directBytes is the size from which a message is written from its own
// parts rather than copied into the shared buffer: a tool result of tens
// of MiB is not copied (and the copy grown by doubling) on its way out.
const directBytes = 1 << 20

// lineWriter writes whole messages, one per line, from many goroutines.
// Messages written while another write is under way are queued and go out
// together with the next write: under load, many answers share a system
// call; alone, an answer is written at once by its own goroutine. A large
// message waits for its turn and goes out from its own parts.
type lineWriter struct {
	w io.Writer

	mu       sync.Mutex
	turn     *sync.Cond // signalled when flushing ends
	pending  []byte
	spare    []byte
	flushing bool
	err      error
}

func newLineWriter(w io.Writer) *lineWriter {
	l := &lineWriter{w: w}
	l.turn = sync.NewCond(&l.mu)
	return l
}

var newline = []byte{'\n'}

// write sends the concatenation of parts and a newline. After the first
// error every write fails with it.
func (l *lineWriter) write(parts ...[]byte) error {
	size := 0
	for _, p := range parts {
		size += len(p)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	if size < directBytes {
		for _, p := range parts {
			l.pending = append(l.pending, p...)
		}
		l.pending = append(l.pending, '\n')
		if l.flushing {
			return nil // the writer under way sends it
		}
		l.flushing = true
		l.drain()
		return l.end()
	}
	for l.flushing {
		l.turn.Wait()
	}
	if l.err != nil {
		return l.err
	}
	l.flushing = true
	l.drain() // what was queued before goes first
	if l.err == nil {
		l.mu.Unlock()
		var err error
		for _, p := range append(parts, newline) {
			if _, err = l.w.Write(p); err != nil {
				break
			}
		}
		l.mu.Lock()
		if err != nil && l.err == nil {
			l.err = err
		}
	}
	l.drain() // what was queued meanwhile
	return l.end()
}

// drain writes the queued messages until none are left; l.mu held, and
// released while writing.
func (l *lineWriter) drain() {
	for len(l.pending) > 0 && l.err == nil {
		buf := l.pending
		l.pending = l.spare[:0]
		l.mu.Unlock()
		_, err := l.w.Write(buf)
		l.mu.Lock()
		if cap(buf) <= directBytes {
			l.spare = buf // keep a modest buffer for reuse
		} else {
			l.spare = nil
		}
		if err != nil {
			l.err = err
		}
	}
}

// end finishes a turn of writing; l.mu held.
func (l *lineWriter) end() error {
	l.flushing = false
	l.turn.Broadcast()
	return l.err
}
