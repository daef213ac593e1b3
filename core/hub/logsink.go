package hub

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// LogSink is where a hub session's log lines go: the front's stderr,
// which the runtime shows as the server's log. A write never waits: the
// session's core logs from goroutines other sessions share (an upstream's
// read loop), and a runtime that does not read its servers' stderr must
// hold none of them up. At most limit bytes wait; past that, lines are
// dropped, and how many is said once there is room again.
type LogSink struct {
	w     io.Writer
	limit int

	mu      sync.Mutex
	wake    *sync.Cond
	queue   [][]byte
	held    int
	dropped int
	closed  bool
	done    chan struct{}
}

// NewLogSink starts the sink's writer on w.
func NewLogSink(w io.Writer, limit int) *LogSink {
	s := &LogSink{w: w, limit: limit, done: make(chan struct{})}
	s.wake = sync.NewCond(&s.mu)
	go s.run()
	return s
}

// Write queues a copy of p, or drops it when the queue is full.
func (s *LogSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return 0, io.ErrClosedPipe
	case s.held+len(p) > s.limit:
		s.dropped++
		return len(p), nil
	}
	s.queue = append(s.queue, append([]byte(nil), p...))
	s.held += len(p)
	s.wake.Signal()
	return len(p), nil
}

func (s *LogSink) run() {
	defer close(s.done)
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.closed {
			s.wake.Wait()
		}
		if len(s.queue) == 0 {
			s.mu.Unlock()
			return
		}
		line := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		s.held -= len(line)
		dropped := s.dropped
		s.dropped = 0
		s.mu.Unlock()
		if dropped > 0 {
			_, _ = fmt.Fprintf(s.w, "ica-mcp-proxy: %d log lines dropped: this stderr was not read\n", dropped)
		}
		if _, err := s.w.Write(line); err != nil {
			// The front is gone: nothing more can be shown.
			s.mu.Lock()
			s.closed, s.queue, s.held = true, nil, 0
			s.mu.Unlock()
			return
		}
	}
}

// Close stops the sink once what waits is written, or after wait.
func (s *LogSink) Close(wait time.Duration) {
	s.mu.Lock()
	s.closed = true
	s.wake.Signal()
	s.mu.Unlock()
	select {
	case <-s.done:
	case <-time.After(wait):
	}
}
