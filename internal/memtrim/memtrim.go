// Package memtrim gives a quiet process's unused memory back to the
// system. Go keeps the heap it grew to under load until its next garbage
// collection, and a process that then sits idle (a proxy between two
// turns of an agent, a plugin whose upstream is not called) may not
// collect for minutes. Runtime knobs that shrink the heap (GOGC, a memory
// limit) cost CPU on every call instead; this costs one collection after
// each busy spell, when nothing is waiting.
//
// The proxy's core and every plugin served by the sdk run it.
package memtrim

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

const (
	// Interval is how often the allocation counter is read, and how long
	// a process must be quiet before it is trimmed.
	Interval = time.Second
	// quietBytes is what a quiet process still allocates in an interval
	// (timers, keep-alives): less than this counts as idle.
	quietBytes = 256 << 10
	// busyBytes is what a process must have allocated since the last trim
	// for another to be worth a collection (a few milliseconds of CPU for
	// the proxy's live heaps of one to two megabytes). 1 MiB is some five
	// hundred calls through a plugin: at 4 MiB, a plugin used for a few
	// hundred calls kept a heap sized for them.
	busyBytes = 1 << 20
)

const allocsMetric = "/gc/heap/allocs:bytes"

// Run trims the process after each busy spell followed by an interval of
// quiet, until ctx ends.
func Run(ctx context.Context) {
	sample := []metrics.Sample{{Name: allocsMetric}}
	read := func() uint64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return sample[0].Value.Uint64()
	}
	t := time.NewTicker(Interval)
	defer t.Stop()
	last := read()
	trimmed := last
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := read()
		if now-last < quietBytes && now-trimmed >= busyBytes {
			// Two collections: what sync.Pools hold (gRPC's buffers)
			// survives the first as their victim cache.
			runtime.GC()
			debug.FreeOSMemory()
			now = read()
			trimmed = now
		}
		last = now
	}
}
