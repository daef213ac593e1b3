package httpfront

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/tidwall/gjson"
)

// waiter is one POSTed request waiting for its answer: the messages that
// belong to it (progress, a subscription's notifications, an upstream's
// questions) and then its response.
type waiter struct {
	mu    sync.Mutex
	msgs  [][]byte
	final []byte
	ready chan struct{} // cap 1: something arrived
}

func newWaiter() *waiter { return &waiter{ready: make(chan struct{}, 1)} }

// deliver queues a message for the request; final is its response.
func (wt *waiter) deliver(msg []byte, final bool) {
	wt.mu.Lock()
	if final {
		wt.final = msg
	} else {
		wt.msgs = append(wt.msgs, msg)
	}
	wt.mu.Unlock()
	select {
	case wt.ready <- struct{}{}:
	default:
	}
}

// take returns what arrived since the last take.
func (wt *waiter) take() (msgs [][]byte, final []byte) {
	wt.mu.Lock()
	defer wt.mu.Unlock()
	msgs, final = wt.msgs, wt.final
	wt.msgs = nil
	return msgs, final
}

// keepAlive is how often an idle event stream gets a comment.
const keepAlive = 25 * time.Second

// answer writes the request's response to w: as JSON when the response
// is all there is, as an event stream once anything else comes first. It
// returns when the response is written, or ctx ends (the client went
// away: cancelled is called), or ended does (the session is over).
func (wt *waiter) answer(ctx context.Context, w http.ResponseWriter, header func(http.Header), status func(final []byte) int, ended <-chan struct{}, cancelled func()) {
	var es *eventStream
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-wt.ready:
		case <-tick.C:
			if es != nil && es.comment() != nil {
				cancelled()
				return
			}
			continue
		case <-ctx.Done():
			cancelled()
			return
		case <-ended:
			if es == nil {
				http.Error(w, "the session ended before the request was answered", http.StatusServiceUnavailable)
			}
			return
		}
		msgs, final := wt.take()
		if es == nil && len(msgs) == 0 && final != nil {
			h := w.Header()
			h.Set("Content-Type", "application/json")
			if header != nil {
				header(h)
			}
			w.WriteHeader(status(final))
			_, _ = w.Write(final)
			return
		}
		if es == nil {
			es = startEvents(w, header)
		}
		for _, m := range msgs {
			if es.send(m) != nil {
				cancelled()
				return
			}
		}
		if final != nil {
			_ = es.send(final)
			return
		}
	}
}

// isResponse says whether msg answers a request (it has an id and no
// method).
func isResponse(msg []byte) bool {
	r := gjson.GetManyBytes(msg, "id", "method")
	return r[0].Exists() && r[0].Type != gjson.Null && !r[1].Exists()
}
