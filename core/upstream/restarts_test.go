package upstream

import (
	"context"
	"errors"
	"fmt"
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

// A pause between failed starts may be waited out by a call whose
// timeout leaves the time; a spent budget of starts may not.
func TestWaitable(t *testing.T) {
	var r restarts
	now := time.Now()
	r.failed("exit 1", now)
	r.failed("exit 1", now) // second failure in a row: a 1 s pause
	pause := r.paused("s", now)
	if pause == nil {
		t.Fatal("no pause after two failures")
	}
	long, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if wait, ok := waitable(long, pause); !ok || wait <= 0 || wait > time.Second {
		t.Fatalf("a minute's timeout and a 1 s pause: %s %v", wait, ok)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if _, ok := waitable(short, pause); ok {
		t.Fatal("a 200 ms timeout waits for a 1 s pause")
	}
	var b restarts
	for i := range maxStartsPerMinute {
		at := now.Add(time.Duration(i) * 10 * time.Millisecond)
		b.starts = append(b.starts, at)
	}
	b.failures = 1
	spent := b.paused("s", now.Add(time.Second))
	if cl, ok := errors.AsType[*CrashLoopError](spent); !ok || !cl.Budget {
		t.Fatalf("five starts in a second: %v", spent)
	}
	if _, ok := waitable(long, spent); ok {
		t.Fatal("a spent budget is waited for")
	}
	if _, ok := waitable(long, errors.New("exit 1")); ok {
		t.Fatal("another error is waited for")
	}
}

// Only the server's own failures count toward its pauses and budget: not
// a plugin that broke, and not a server asking for a login or for more
// scope (a 403 on one request ends the session, and is no crash).
func TestOwnFailure(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{errors.New("exited with code 1"), true},
		{&PluginError{Server: "a", Err: errors.New("boom")}, true},
		{&PluginError{Server: "a", Err: errors.New("stream broke"), Broke: true}, false},
		{&AuthRequiredError{Server: "a", Status: 401}, false},
		{fmt.Errorf("dial: %w", &AuthRequiredError{Server: "a", Status: 403, WWWAuthenticate: `Bearer error="insufficient_scope"`}), false},
	} {
		if got := ownFailure(tc.err); got != tc.want {
			t.Errorf("ownFailure(%v) = %t, want %t", tc.err, got, tc.want)
		}
	}
}
