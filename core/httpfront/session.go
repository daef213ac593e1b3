package httpfront

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/tidwall/gjson"
)

// A legacy client's session: initialize made it, Mcp-Session-Id names
// it, DELETE (or a long idle) ends it. Its frontend's messages go where
// the client will read them:
//
//   - a response, to the POST that carried the request;
//   - progress, to the POST whose request named the token;
//   - anything else (log messages, list changes, an upstream's own
//     requests), to the GET stream when the client holds one open, else
//     to the oldest POST still waiting, else held for the next GET.

// heldMax bounds what a session holds for a GET stream that is not open:
// a client that never opens one must not make the proxy grow.
const heldMax = 1024

type session struct {
	id    string
	c     *conn
	end   func()
	log   hclog.Logger
	ended chan struct{}
	once  sync.Once

	mu      sync.Mutex
	pending map[string]*waiter // by the request's raw id
	order   []*waiter          // pending, oldest first
	tokens  map[string]*waiter // by progress token, raw
	stream  chan []byte        // the GET stream's, when one is open
	held    [][]byte
	dropped int
	last    time.Time
}

func newSession(ctx context.Context, id string, core Core, end func(), log hclog.Logger) *session {
	s := &session{id: id, end: end, log: log, ended: make(chan struct{}), pending: map[string]*waiter{}, tokens: map[string]*waiter{}, last: time.Now()}
	s.c = startConn(ctx, core, s.route, log)
	go func() {
		<-s.c.done
		s.close()
	}()
	return s
}

// close ends the session and its frontend.
func (s *session) close() {
	s.once.Do(func() {
		close(s.ended)
		go func() {
			s.c.close()
			if s.end != nil {
				s.end()
			}
		}()
	})
}

// route takes one message the frontend wrote.
func (s *session) route(msg []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if isResponse(msg) {
		id := gjson.GetBytes(msg, "id").Raw
		if wt := s.pending[id]; wt != nil {
			s.forget(id, wt)
			wt.deliver(msg, true)
			return
		}
		// Its POST went away: the GET stream is the client's last chance.
		s.toStream(msg)
		return
	}
	if gjson.GetBytes(msg, "method").Str == "notifications/progress" {
		if wt := s.tokens[gjson.GetBytes(msg, "params.progressToken").Raw]; wt != nil {
			wt.deliver(msg, false)
			return
		}
	}
	if s.stream == nil && len(s.order) > 0 {
		s.order[0].deliver(msg, false)
		return
	}
	s.toStream(msg)
}

// toStream sends msg on the GET stream, or holds it for the next one.
// s.mu is held.
func (s *session) toStream(msg []byte) {
	if s.stream != nil {
		select {
		case s.stream <- msg:
			return
		default:
			// The stream's reader is behind; hold it rather than block
			// every other message.
		}
	}
	if len(s.held) >= heldMax {
		s.held = s.held[1:]
		s.dropped++
		if s.dropped == 1 {
			s.log.Warn("a session's client reads no GET stream; its oldest held messages are dropped", "session", s.id)
		}
	}
	s.held = append(s.held, msg)
}

// forget removes a waiter; s.mu is held.
func (s *session) forget(id string, wt *waiter) {
	delete(s.pending, id)
	for i, o := range s.order {
		if o == wt {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	for tok, o := range s.tokens {
		if o == wt {
			delete(s.tokens, tok)
		}
	}
}

// post handles one message the client POSTed to the session.
func (s *session) post(w http.ResponseWriter, r *http.Request, msg []byte, header func(http.Header)) {
	s.mu.Lock()
	s.last = time.Now()
	r0 := gjson.GetManyBytes(msg, "id", "method", "params._meta.progressToken")
	isRequest := r0[0].Exists() && r0[0].Type != gjson.Null && r0[1].Exists()
	var wt *waiter
	if isRequest {
		if s.pending[r0[0].Raw] != nil {
			s.mu.Unlock()
			writeRPCError(w, http.StatusConflict, r0[0].Raw, -32600, "a request with this id is already in flight in this session")
			return
		}
		wt = newWaiter()
		s.pending[r0[0].Raw] = wt
		s.order = append(s.order, wt)
		if r0[2].Exists() {
			s.tokens[r0[2].Raw] = wt
		}
	}
	s.mu.Unlock()
	if err := s.c.send(msg); err != nil {
		s.close()
		http.Error(w, "the session has ended", http.StatusNotFound)
		return
	}
	if !isRequest {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	// A client that goes away does not cancel its request (the revision
	// says so: it sends notifications/cancelled when it means to); the
	// answer then goes to the GET stream.
	wt.answer(r.Context(), w, header, func([]byte) int { return http.StatusOK }, s.ended, func() {
		s.mu.Lock()
		s.forget(r0[0].Raw, wt)
		s.mu.Unlock()
	})
}

// get holds the session's GET stream open: everything not bound to a
// POST comes on it.
func (s *session) get(w http.ResponseWriter, r *http.Request) {
	ch := make(chan []byte, 256)
	s.mu.Lock()
	if s.stream != nil {
		s.mu.Unlock()
		http.Error(w, "this session's GET stream is open already", http.StatusConflict)
		return
	}
	s.stream = ch
	held := s.held
	s.held = nil
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.stream = nil
		// What was sent but not written waits for the next stream.
		for {
			select {
			case m := <-ch:
				s.held = append(s.held, m)
				continue
			default:
			}
			break
		}
		s.mu.Unlock()
	}()
	es := startEvents(w, nil)
	for _, m := range held {
		if es.send(m) != nil {
			return
		}
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case m := <-ch:
			if es.send(m) != nil {
				return
			}
		case <-tick.C:
			if es.comment() != nil {
				return
			}
		case <-r.Context().Done():
			return
		case <-s.ended:
			return
		}
	}
}

// idle says whether the session has had no request since cutoff and has
// nothing open.
func (s *session) idle(cutoff time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last.Before(cutoff) && s.stream == nil && len(s.pending) == 0
}
