package upstream

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A server that fails at once, again and again (a crash at start, a bad
// command), is started again only after a growing pause, and at most
// maxStartsPerMinute times a minute. A call that comes during a pause
// waits for it when its own timeout leaves the time; past the budget of
// starts, calls fail at once with the reason instead of starting it again.
// Only the upstream's own failures count: a transport plugin that crashed
// under it is the plugin host's to restart (see pluginhost).
const (
	maxStartsPerMinute = 5
	// healthyAfter is how long a session must last for its end not to
	// count as a failure.
	healthyAfter = 10 * time.Second
	firstBackoff = time.Second
	maxBackoff   = time.Minute
)

// restarts is an Upstream's start history; guarded by Upstream.mu.
type restarts struct {
	starts   []time.Time // within the last minute
	failures int         // in a row
	until    time.Time   // no start before this
	last     string      // the last failure
}

// CrashLoopError says a server is not started again yet because it kept
// failing.
type CrashLoopError struct {
	Server  string
	Starts  int
	Last    string
	RetryIn time.Duration
	// Budget says the server used up its starts for the minute; otherwise
	// it only pauses between failed starts, and a call may wait.
	Budget bool
}

func (e *CrashLoopError) Error() string {
	return fmt.Sprintf("server %q keeps failing (%d starts in the last minute; last: %s); it is started again in %s at the earliest",
		e.Server, e.Starts, e.Last, e.RetryIn.Round(100*time.Millisecond))
}

// paused says why a start may not happen now, or nil.
func (r *restarts) paused(server string, now time.Time) error {
	recent := r.starts[:0]
	for _, t := range r.starts {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	r.starts = recent
	wait := r.until.Sub(now)
	budget := false
	if len(recent) >= maxStartsPerMinute {
		if w := recent[0].Add(time.Minute).Sub(now); w > wait {
			wait, budget = w, true
		}
	}
	if wait > 0 && r.failures > 0 {
		return &CrashLoopError{Server: server, Starts: len(recent), Last: r.last, RetryIn: wait, Budget: budget}
	}
	return nil
}

// allow says whether a start may happen now, and records it if so.
func (r *restarts) allow(server string, now time.Time) error {
	if err := r.paused(server, now); err != nil {
		return err
	}
	// Only the oldest of the last few starts matters to the limit.
	if len(r.starts) == maxStartsPerMinute {
		r.starts = append(r.starts[:0], r.starts[1:]...)
	}
	r.starts = append(r.starts, now)
	return nil
}

// failed records a start that failed, or a session that ended before it
// was healthy, and sets the next pause: none after the first failure (a
// server killed once comes back at once), then 1s, 2s, 4s… up to a minute.
func (r *restarts) failed(why string, now time.Time) {
	r.failures++
	r.last = why
	if r.failures > 1 {
		r.until = now.Add(min(firstBackoff<<(r.failures-2), maxBackoff))
	}
}

// ended records the end of a session that started at since.
func (r *restarts) ended(since time.Time, why string, now time.Time) {
	if now.Sub(since) < healthyAfter {
		r.failed(why, now)
		return
	}
	r.reset()
}

// reset forgets the failures: a session that lasted, or new credentials.
func (r *restarts) reset() { r.failures, r.until, r.last = 0, time.Time{}, "" }

// waitable says how long a caller whose context is ctx may wait for err's
// pause to end before starting the server: a pause, not a spent budget,
// that ends before ctx does. ok is false when it must fail now.
func waitable(ctx context.Context, err error) (wait time.Duration, ok bool) {
	cl, isPause := errors.AsType[*CrashLoopError](err)
	if !isPause || cl.Budget {
		return 0, false
	}
	if deadline, has := ctx.Deadline(); has && time.Until(deadline) <= cl.RetryIn {
		return 0, false
	}
	return cl.RetryIn, true
}

// waitOut waits for the pause err reports to end, and returns nil for
// the caller to try the start again; it returns err when the caller must
// fail now instead (see waitable), or ctx's error if ctx ends first.
func waitOut(ctx context.Context, err error) error {
	wait, ok := waitable(ctx, err)
	if !ok {
		return err
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
