package memtrim

import (
	"context"
	"runtime"
	"testing"
	"time"
)

var sink []byte

// A busy spell followed by quiet is collected; quiet alone is not.
func TestTrimsAfterABusySpell(t *testing.T) {
	forced := func() uint32 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.NumForcedGC
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Run(ctx)

	before := forced()
	time.Sleep(3 * Interval)
	if n := forced() - before; n != 0 {
		t.Fatalf("a quiet process was collected %d times", n)
	}
	for range 64 {
		sink = make([]byte, 256<<10) // 16 MiB in all
	}
	sink = nil
	for range 50 {
		if forced() > before {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no collection within 5 s of a busy spell")
}
