package remote

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// ErrEnded is returned by Send once the session has ended.
var ErrEnded = errors.New("session ended")

// Life is what the HTTP transports' sessions share about living and
// ending: the requests and streams under way, and the one end that reports
// why and then Exited, once nothing is under way any more.
type Life struct {
	// Ctx ends when the session does; work under way watches it.
	Ctx    context.Context
	cancel context.CancelFunc
	peer   sdk.Peer
	log    hclog.Logger

	mu     sync.Mutex
	ended  bool
	work   sync.WaitGroup
	once   sync.Once
	exited chan struct{}
}

// NewLife returns the life of a session whose context is ctx, ended by
// cancel.
func NewLife(ctx context.Context, cancel context.CancelFunc, peer sdk.Peer) *Life {
	return &Life{Ctx: ctx, cancel: cancel, peer: peer, log: peer.Logger(), exited: make(chan struct{})}
}

// Go runs f on its own goroutine as work of the session, unless the
// session has ended; it reports whether f runs.
func (l *Life) Go(f func()) bool {
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		return false
	}
	l.work.Add(1)
	l.mu.Unlock()
	go func() {
		defer l.work.Done()
		f()
	}()
	return true
}

// Ended reports whether End was called.
func (l *Life) Ended() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ended
}

// End finishes the session once: it reports ev (if any), cancels the work
// under way and, when that has stopped, reports Exited with reason.
func (l *Life) End(ev sdk.Event, reason string) {
	l.once.Do(func() {
		l.mu.Lock()
		l.ended = true
		l.mu.Unlock()
		if ev != nil {
			_ = l.peer.Event(ev)
		}
		l.cancel()
		go func() {
			l.work.Wait()
			_ = l.peer.Event(sdk.Exited{ExitCode: -1, Reason: reason})
			close(l.exited)
		}()
	})
}

// Wait returns when Exited was reported, or when ctx ends.
func (l *Life) Wait(ctx context.Context) {
	select {
	case <-l.exited:
	case <-ctx.Done():
	}
}

// Deliver passes messages from the server to the host.
func (l *Life) Deliver(msgs ...[]byte) {
	if err := l.peer.Deliver(msgs...); err != nil {
		l.log.Debug("could not deliver a message", "error", err)
	}
}

// Fail answers a request the server did not, so the host's caller gets an
// error now rather than at its timeout; for other messages it logs why.
func (l *Life) Fail(msg Msg, why string) {
	if !msg.IsRequest() {
		l.log.Warn("could not send a message to the server", "method", msg.Method, "error", why)
		return
	}
	l.Deliver(ErrorReply(msg.ID, "transport: "+why))
}

// Target reads a remote session's spec: the URL, checked against the
// policy, and the configured headers.
func Target(spec sdk.SessionSpec) (*url.URL, http.Header, error) {
	opts, err := ParseOptions(spec.Options)
	if err != nil {
		return nil, nil, err
	}
	u, err := CheckURL(spec.URL, opts.AllowHTTP)
	if err != nil {
		return nil, nil, err
	}
	return u, Header(spec.Headers), nil
}
