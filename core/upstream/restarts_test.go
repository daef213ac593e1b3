package upstream

import (
	"errors"
	"testing"
	"time"
)

func TestRestartsBackOff(t *testing.T) {
	var r restarts
	now := time.Unix(1000, 0)
	var starts []time.Duration
	// Try to start every 100 ms for two minutes; every start fails.
	for d := time.Duration(0); d < 2*time.Minute; d += 100 * time.Millisecond {
		err := r.allow("s", now.Add(d))
		if err != nil {
			var cl *CrashLoopError
			if !errors.As(err, &cl) || cl.RetryIn <= 0 || cl.Last != "exit 1" {
				t.Fatalf("at %s: %v", d, err)
			}
			continue
		}
		starts = append(starts, d)
		r.failed("exit 1", now.Add(d))
	}
	// 0, 0.1, 1.1, 3.1, 7.1, 15.1 s… never more than five in any minute.
	for i := range starts {
		n := 0
		for _, s := range starts[i:] {
			if s-starts[i] < time.Minute {
				n++
			}
		}
		if n > maxStartsPerMinute {
			t.Fatalf("%d starts within a minute from %s: %v", n, starts[i], starts)
		}
	}
	if len(starts) < 4 || starts[1] != 100*time.Millisecond || starts[2] != 1100*time.Millisecond || starts[3] != 3100*time.Millisecond {
		t.Fatalf("starts %v", starts)
	}

	// A session that lasted resets the pause; a healthy server restarts at
	// once after a crash.
	r.ended(now.Add(2*time.Minute), "exit 1", now.Add(3*time.Minute))
	if err := r.allow("s", now.Add(3*time.Minute)); err != nil {
		t.Fatalf("after a healthy session: %v", err)
	}
}
