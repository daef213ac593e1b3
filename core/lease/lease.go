// Package lease shares the instances of one upstream entry among the
// clients of a hub without ever crossing them.
//
// A legacy (initialize-revision) upstream can send requests of its own
// (elicitation, sampling, roots/list) that carry no sign of the call they
// belong to. So an instance is leased to one client while that client has
// calls in flight on it, and only that client's calls go to it then:
// whatever the instance asks belongs to the client holding the lease.
//
//   - A client with a lease keeps using its instance.
//   - Another client's call takes an idle instance (no lease), or a new
//     one up to the pool's maximum, or waits for one to come free.
//   - A lease ends when its client's last call on the instance ends; the
//     instance is then idle, and stays open for the next call.
//
// Stateless upstreams need none of this: their questions come back inside
// each call's own answer. They share one instance, unleased.
package lease

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Client names a hub's client (one front's session).
type Client string

// ErrClosed is an Acquire on a closed pool.
var ErrClosed = errors.New("the pool is closed")

// Pool leases the instances of one entry. I is what an instance is (an
// upstream session); open makes one.
type Pool[I comparable] struct {
	max  int
	open func(ctx context.Context) (I, error)
	// moved, when set, is told that an instance's lease passed from one
	// client to another (the hub sends roots/list_changed when the new
	// client's roots differ).
	moved func(inst I, from, to Client)

	mu      sync.Mutex
	slots   []*slot[I]
	opening int
	freed   chan struct{} // closed and replaced when a lease ends or an instance opens
	closed  bool
}

type slot[I comparable] struct {
	inst     I
	holder   Client // "" when idle
	inflight int
	pins     int    // holds kept past their calls (Pin), of inflight
	last     Client // the last holder, for moved
}

// New makes a pool of at most max instances (1 when max < 1).
func New[I comparable](max int, open func(ctx context.Context) (I, error), moved func(inst I, from, to Client)) *Pool[I] {
	if max < 1 {
		max = 1
	}
	return &Pool[I]{max: max, open: open, moved: moved, freed: make(chan struct{})}
}

// Acquire returns an instance for one call of client c, leased to c until
// release is called for every call acquired. It waits while every
// instance is leased to others and the pool is full, until ctx ends.
func (p *Pool[I]) Acquire(ctx context.Context, c Client) (inst I, release func(), err error) {
	return p.acquire(ctx, c, true)
}

// acquire is Acquire; without wait it fails at once where Acquire would
// wait (ctx is then only given to open).
func (p *Pool[I]) acquire(ctx context.Context, c Client, wait bool) (inst I, release func(), err error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return inst, nil, ErrClosed
		}
		if s := p.pick(c); s != nil {
			from := s.last
			s.holder, s.last = c, c
			s.inflight++
			p.mu.Unlock()
			if p.moved != nil && from != "" && from != c {
				p.moved(s.inst, from, c)
			}
			return s.inst, p.releaser(s), nil
		}
		if p.counted()+p.opening < p.max {
			p.opening++
			p.mu.Unlock()
			inst, err := p.open(ctx)
			p.mu.Lock()
			p.opening--
			if err != nil {
				p.signal()
				p.mu.Unlock()
				return inst, nil, fmt.Errorf("opening an instance: %w", err)
			}
			s := &slot[I]{inst: inst, holder: c, inflight: 1, last: c}
			p.slots = append(p.slots, s)
			p.signal()
			p.mu.Unlock()
			return inst, p.releaser(s), nil
		}
		freed := p.freed
		p.mu.Unlock()
		if !wait {
			return inst, nil, errWouldWait
		}
		select {
		case <-freed:
		case <-ctx.Done():
			return inst, nil, fmt.Errorf("every instance is leased to another client (%d, the most): %w", p.max, ctx.Err())
		}
	}
}

// TryAcquire is Acquire when it need not wait: ok is false when every
// instance is leased to others and the pool is full, or open fails.
func (p *Pool[I]) TryAcquire(c Client) (inst I, release func(), ok bool) {
	inst, release, err := p.acquire(context.Background(), c, false)
	return inst, release, err == nil
}

// errWouldWait is an acquire without wait that would have waited.
var errWouldWait = errors.New("every instance is leased to another client")

// pick is c's own instance, else an idle one; p.mu is held.
func (p *Pool[I]) pick(c Client) *slot[I] {
	var idle *slot[I]
	for _, s := range p.slots {
		if s.holder == c {
			return s
		}
		if s.holder == "" && (idle == nil || s.last == c) {
			idle = s // one c held last is best: nothing moves
		}
	}
	return idle
}

// counted is how many instances count against the maximum: a pinned
// one only while it also serves calls (see Pin), unless the maximum is
// 1 (a server that must not run twice); p.mu is held. Past twice the
// maximum, every instance counts.
func (p *Pool[I]) counted() int {
	if p.max == 1 || len(p.slots) >= 2*p.max {
		return len(p.slots)
	}
	n := 0
	for _, s := range p.slots {
		if s.pins == 0 || s.inflight > s.pins {
			n++
		}
	}
	return n
}

// releaser ends one call's hold on s, once.
func (p *Pool[I]) releaser(s *slot[I]) func() { return p.unhold(s, false) }

// unhold ends one hold on s (a pin's when pinned), once.
func (p *Pool[I]) unhold(s *slot[I], pinned bool) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			s.inflight--
			if pinned {
				s.pins--
			}
			if s.inflight == 0 {
				s.holder = ""
			}
			p.signal()
		})
	}
}

// Pin keeps inst leased to c, which holds it now, until release is
// called: a call of c's that was abandoned, or runs on as a task, may
// still ask c questions. A pinned instance counts against the maximum
// only while it serves calls too: the sessions that pinned one cannot
// starve the others, and there is at most one per session (the caller's
// rule). Not so with a maximum of 1, which says the server must not run
// twice; and never past twice the maximum. ok is false when
// c does not hold inst.
func (p *Pool[I]) Pin(inst I, c Client) (release func(), ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.slots {
		if s.inst == inst && s.holder == c {
			s.inflight++
			s.pins++
			p.signal() // it no longer counts: a waiter may open one
			return p.unhold(s, true), true
		}
	}
	return nil, false
}

// signal wakes the waiters; p.mu is held.
func (p *Pool[I]) signal() {
	close(p.freed)
	p.freed = make(chan struct{})
}

// Remove drops an instance that ended (its process exited); calls still
// holding it release nothing more.
func (p *Pool[I]) Remove(match func(I) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	kept := p.slots[:0]
	for _, s := range p.slots {
		if !match(s.inst) {
			kept = append(kept, s)
		}
	}
	clear(p.slots[len(kept):])
	p.slots = kept
	p.signal()
}

// Close fails every Acquire from now on and returns the instances, for
// the caller to close.
func (p *Pool[I]) Close() []I {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.signal()
	out := make([]I, 0, len(p.slots))
	for _, s := range p.slots {
		out = append(out, s.inst)
	}
	p.slots = nil
	return out
}

// Holders says, per instance, which client holds it ("" for idle), for
// hub status.
func (p *Pool[I]) Holders() []Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Client, len(p.slots))
	for i, s := range p.slots {
		out[i] = s.holder
	}
	return out
}

// SetMax changes how many instances the pool may open (1 when max < 1);
// instances open beyond it stay.
func (p *Pool[I]) SetMax(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.max = max(n, 1)
	p.signal()
}

// Holder says which client holds inst ("" for idle) and which held it
// last; ok is false when inst is not in the pool.
func (p *Pool[I]) Holder(inst I) (holder, last Client, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.slots {
		if s.inst == inst {
			return s.holder, s.last, true
		}
	}
	return "", "", false
}

// Instances returns the pool's instances.
func (p *Pool[I]) Instances() []I {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]I, len(p.slots))
	for i, s := range p.slots {
		out[i] = s.inst
	}
	return out
}
