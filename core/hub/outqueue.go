package hub

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// ErrStalled is a session whose client stopped reading: more than the
// queue's limit waited for it.
var ErrStalled = errors.New("the client stopped reading")

// OutQueue is what a hub session's frontend writes to. A write never
// waits for the client: it is queued, and a goroutine of the queue's own
// writes it out. In the hub an upstream's answers are written from the
// read loop of a session other sessions share; a client that stops
// reading must not hold that loop, nor the other sessions, up.
//
// At most limit bytes wait (a single message of any size is taken when
// none waits). Past it the session has stalled: the write fails with
// ErrStalled, stalled is called (to end the session), and every later
// write fails.
type OutQueue struct {
	w       io.Writer
	limit   int
	stalled func(error)

	mu      sync.Mutex
	wake    *sync.Cond
	queue   net.Buffers
	held    int
	err     error
	closing bool
	done    chan struct{}
}

// NewOutQueue starts the queue's writer on w.
func NewOutQueue(w io.Writer, limit int, stalled func(error)) *OutQueue {
	q := &OutQueue{w: w, limit: limit, stalled: stalled, done: make(chan struct{})}
	q.wake = sync.NewCond(&q.mu)
	go q.run()
	return q
}

// Write queues a copy of p.
func (q *OutQueue) Write(p []byte) (int, error) {
	q.mu.Lock()
	if q.err != nil {
		err := q.err
		q.mu.Unlock()
		return 0, err
	}
	if q.closing {
		q.mu.Unlock()
		return 0, io.ErrClosedPipe
	}
	if q.held > 0 && q.held+len(p) > q.limit {
		q.err = fmt.Errorf("%w: %d bytes wait for it (at most %d)", ErrStalled, q.held+len(p), q.limit)
		err := q.err
		q.wake.Broadcast()
		q.mu.Unlock()
		if q.stalled != nil {
			q.stalled(err)
		}
		return 0, err
	}
	q.queue = append(q.queue, append([]byte(nil), p...))
	q.held += len(p)
	q.wake.Signal()
	q.mu.Unlock()
	return len(p), nil
}

// run writes what is queued, all that waits in one write.
func (q *OutQueue) run() {
	defer close(q.done)
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		for len(q.queue) == 0 && q.err == nil && !q.closing {
			q.wake.Wait()
		}
		if q.err != nil || len(q.queue) == 0 {
			return // stalled, or closed with nothing left
		}
		batch := q.queue
		q.queue = nil
		q.mu.Unlock()
		n, err := batch.WriteTo(q.w)
		q.mu.Lock()
		q.held -= int(n)
		if err != nil && q.err == nil {
			q.err = err
		}
	}
}

// Close lets the writer write out what is queued, for up to wait, unless
// the session stalled; the caller then closes the client's end, which
// ends a write still blocked.
func (q *OutQueue) Close(wait time.Duration) error {
	q.mu.Lock()
	q.closing = true
	q.wake.Broadcast()
	stalled := q.err
	q.mu.Unlock()
	if stalled == nil {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case <-q.done:
		case <-timer.C:
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.err
}
