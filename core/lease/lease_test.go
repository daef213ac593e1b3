package lease_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/lease"
)

// instances opens numbered instances and records the moves.
type instances struct {
	mu     sync.Mutex
	opened int
	moves  []string
	fail   error
}

func (in *instances) open(context.Context) (int, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.fail != nil {
		return 0, in.fail
	}
	in.opened++
	return in.opened, nil
}

func (in *instances) moved(inst int, from, to lease.Client) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.moves = append(in.moves, string(from)+">"+string(to))
}

func acquire(t *testing.T, p *lease.Pool[int], c lease.Client) (int, func()) {
	t.Helper()
	inst, release, err := p.Acquire(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return inst, release
}

// A client's calls share its instance; another client's call, while the
// first holds it, gets an instance of its own; an instance whose lease
// ended serves the next client without opening another, and the move is
// told.
func TestLeases(t *testing.T) {
	in := &instances{}
	p := lease.New(4, in.open, in.moved)
	a1, releaseA1 := acquire(t, p, "a")
	a2, releaseA2 := acquire(t, p, "a")
	b1, releaseB1 := acquire(t, p, "b")
	if a1 != 1 || a2 != 1 || b1 != 2 || in.opened != 2 {
		t.Fatalf("a: %d %d, b: %d, opened %d", a1, a2, b1, in.opened)
	}
	if got := p.Holders(); !slices.Equal(got, []lease.Client{"a", "b"}) {
		t.Fatalf("holders %v", got)
	}
	releaseA1()
	releaseA1() // a second release of one call is nothing
	if got := p.Holders(); got[0] != "a" {
		t.Fatalf("a's lease ended with a call still in flight: %v", got)
	}
	releaseA2()
	c1, releaseC1 := acquire(t, p, "c")
	if c1 != 1 || in.opened != 2 || !slices.Equal(in.moves, []string{"a>c"}) {
		t.Fatalf("c got %d (opened %d, moves %v), want a's idle instance", c1, in.opened, in.moves)
	}
	releaseC1()
	releaseB1()
	// Both idle: b takes the one it held, so nothing moves.
	if b2, release := acquire(t, p, "b"); b2 != 2 || len(in.moves) != 1 {
		t.Fatalf("b got %d, moves %v", b2, in.moves)
	} else {
		release()
	}
}

// At the most instances, a client without a lease waits for one to come
// free, or for its context; a client with a lease never waits.
func TestFullPoolWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in := &instances{}
		p := lease.New(1, in.open, in.moved)
		_, releaseA := acquire(t, p, "a")
		if inst, release := acquire(t, p, "a"); inst != 1 {
			t.Fatalf("a's second call got %d", inst)
		} else {
			release()
		}
		got := make(chan int, 1)
		go func() {
			inst, release, err := p.Acquire(context.Background(), "b")
			if err != nil {
				t.Error(err)
				return
			}
			release()
			got <- inst
		}()
		synctest.Wait()
		select {
		case inst := <-got:
			t.Fatalf("b got %d while a held the only instance", inst)
		default:
		}
		releaseA()
		if inst := <-got; inst != 1 {
			t.Fatalf("b got %d", inst)
		}

		_, releaseA = acquire(t, p, "a")
		defer releaseA()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, _, err := p.Acquire(ctx, "c"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a full pool past the deadline: %v", err)
		}
	})
}

// An instance that cannot open fails that call with why, and wakes the
// waiters; an instance removed is replaced on the next call; a closed pool
// refuses, and hands back its instances.
func TestFailuresAndClose(t *testing.T) {
	in := &instances{fail: errors.New("no such command")}
	p := lease.New(2, in.open, nil)
	if _, _, err := p.Acquire(context.Background(), "a"); err == nil || !errors.Is(err, in.fail) {
		t.Fatalf("open failed: %v", err)
	}
	in.fail = nil
	_, release := acquire(t, p, "a")
	release()
	p.Remove(func(i int) bool { return i == 1 })
	if inst, release := acquire(t, p, "a"); inst != 2 {
		t.Fatalf("after the instance ended: %d", inst)
	} else {
		release()
	}
	if left := p.Close(); !slices.Equal(left, []int{2}) {
		t.Fatalf("Close returned %v", left)
	}
	if _, _, err := p.Acquire(context.Background(), "a"); !errors.Is(err, lease.ErrClosed) {
		t.Fatalf("a closed pool: %v", err)
	}
}

// Under concurrency no instance ever serves two clients at once, and no
// more than the most are opened.
func TestNeverCrossed(t *testing.T) {
	in := &instances{}
	p := lease.New(3, in.open, nil)
	var mu sync.Mutex
	using := map[int]map[lease.Client]int{}
	var wg sync.WaitGroup
	for c := range 8 {
		client := lease.Client(rune('a' + c))
		wg.Go(func() {
			for range 200 {
				inst, release := acquire(t, p, client)
				mu.Lock()
				if using[inst] == nil {
					using[inst] = map[lease.Client]int{}
				}
				using[inst][client]++
				if len(using[inst]) > 1 {
					t.Errorf("instance %d serves %v at once", inst, using[inst])
				}
				mu.Unlock()
				mu.Lock()
				if using[inst][client]--; using[inst][client] == 0 {
					delete(using[inst], client)
				}
				mu.Unlock()
				release()
			}
		})
	}
	wg.Wait()
	if in.opened > 3 {
		t.Fatalf("%d instances opened, the most is 3", in.opened)
	}
}

// A pinned instance counts against the maximum only while it also serves
// calls: sessions whose abandoned calls pinned instances cannot starve
// the others. With a maximum of 1 (a server that must not run twice) it
// counts, and the pool never grows past twice the maximum.
func TestPinnedInstancesDoNotStarve(t *testing.T) {
	in := &instances{}
	p := lease.New(2, in.open, in.moved)
	pinned := func(c lease.Client) (int, func()) {
		inst, release := acquire(t, p, c)
		unpin, ok := p.Pin(inst, c)
		if !ok {
			t.Fatalf("%s could not pin the instance it holds", c)
		}
		release() // the call ends; the pin keeps the instance c's
		return inst, unpin
	}
	a1, unpinA := pinned("a")
	if _, ok := p.Pin(a1, "b"); ok {
		t.Fatal("b pinned an instance a holds")
	}
	_, unpinB := pinned("b")
	c1, releaseC, ok := p.TryAcquire("c")
	if !ok || in.opened != 3 {
		t.Fatalf("c: %d, %v (opened %d); want a new instance beside the two pinned ones", c1, ok, in.opened)
	}
	_, unpinD := pinned("d")
	if _, _, ok := p.TryAcquire("e"); ok || in.opened != 4 {
		t.Fatalf("e got an instance (opened %d): past twice the maximum of 2, every instance counts", in.opened)
	}
	releaseC()
	unpinA()
	unpinB()
	unpinD()
	if holders := p.Holders(); holders[0] != "" {
		t.Fatalf("holders %v: a's instance is still held after its pin ended", holders)
	}

	one := lease.New(1, in.open, in.moved)
	x, releaseX := acquire(t, one, "a")
	unpin, _ := one.Pin(x, "a")
	defer unpin()
	releaseX()
	if _, _, ok := one.TryAcquire("b"); ok {
		t.Fatal("with a maximum of 1, b got a second instance beside a's pinned one")
	}
}

// A pinned instance that serves a call of its session counts again.
func TestPinnedInstanceServingCounts(t *testing.T) {
	in := &instances{}
	p := lease.New(2, in.open, in.moved)
	a1, releaseA := acquire(t, p, "a")
	unpin, _ := p.Pin(a1, "a")
	defer unpin()
	releaseA()
	_, releaseB := acquire(t, p, "b") // beside a's pinned one
	defer releaseB()
	if got, release := acquire(t, p, "a"); got != a1 {
		t.Fatalf("a's call went to %d, not its pinned instance", got)
	} else {
		defer release()
	}
	if _, _, ok := p.TryAcquire("c"); ok || in.opened != 2 {
		t.Fatalf("c got an instance (opened %d) while a's pinned one serves a call and b holds the other, at a maximum of 2", in.opened)
	}
}
