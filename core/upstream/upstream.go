package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/mark3labs/mcp-go/mcp"
)

// Status values of an Upstream.
const (
	StatusNotStarted = "not_started"
	StatusStarting   = "starting"
	StatusOK         = "ok"
	StatusError      = "error"
	// StatusLoginRequired: the server answered 401; it needs a login.
	StatusLoginRequired = "login_required"
)

// State is an Upstream's condition, for mirror_status and list_servers.
type State struct {
	Status string `json:"state"`
	// Error is the last failure's message when Status is "error".
	Error string `json:"error,omitempty"`
	// Since is when Status last changed.
	Since time.Time `json:"since"`
	// Running says a pooled session is live now.
	Running bool `json:"running"`
	// Detail is the live session's transport detail (a process id).
	Detail string `json:"detail,omitempty"`
	// Starts counts sessions opened.
	Starts int `json:"starts"`
	// Transport is the transport of the last session that opened.
	Transport string `json:"transport,omitempty"`
	// ServerName and ServerVersion are what the upstream said at
	// initialize.
	ServerName    string `json:"server_name,omitempty"`
	ServerVersion string `json:"server_version,omitempty"`
}

// Upstream is one configured server. It is safe for concurrent use.
type Upstream struct {
	name   string
	spec   Spec
	opener Opener
	logger hclog.Logger
	hooks  Hooks

	mu       sync.Mutex
	conn     *Conn
	retiring map[*Conn]bool // recycled sessions waiting for their requests
	inflight int
	dialing  *dialCall
	idle     *time.Timer
	state    State
	closed   bool
	// withToken says the last session was opened with a login's token.
	withToken bool
	challenge string // the last 401's WWW-Authenticate

	lists [numKinds]listCache

	restarts restarts

	// tried is closed when the first dial has ended, well or not.
	tried     chan struct{}
	triedOnce sync.Once
	caps      *mcp.ServerCapabilities // from the last initialize
}

// New returns an Upstream; nothing starts until it is used.
func New(name string, spec Spec, opener Opener, logger hclog.Logger, hooks Hooks) *Upstream {
	spec.Session.Server = name
	return &Upstream{
		name: name, spec: spec, opener: opener, logger: logger, hooks: hooks,
		state: State{Status: StatusNotStarted},
		tried: make(chan struct{}),
	}
}

// Tried is closed once the upstream's first session has opened or failed
// to.
func (u *Upstream) Tried() <-chan struct{} { return u.tried }

// ServerCapabilities returns what the upstream offered at its last
// initialize, or nil before any.
func (u *Upstream) ServerCapabilities() *mcp.ServerCapabilities {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.caps
}

// Live says whether a session is open now: a request is sent at once,
// without starting the server first.
func (u *Upstream) Live() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.conn != nil && u.conn.Err() == nil
}

// NotifyLive sends a notification to the live session, if there is one;
// it starts none.
func (u *Upstream) NotifyLive(method string, params json.RawMessage) {
	u.mu.Lock()
	conn := u.conn
	u.mu.Unlock()
	if conn != nil {
		if err := conn.Notify(method, params); err != nil {
			u.logger.Debug("could not notify upstream", "server", u.name, "method", method, "error", err)
		}
	}
}

// State returns the Upstream's condition now.
func (u *Upstream) State() State {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.state
	s.Running = u.conn != nil
	return s
}

// Request sends one request and waits for the answer, starting the
// upstream if needed. The configured request timeout applies; when it
// passes, the upstream is sent notifications/cancelled.
func (u *Upstream) Request(ctx context.Context, method string, params json.RawMessage) (Reply, error) {
	if u.spec.RequestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, u.spec.RequestTimeout)
		defer cancel()
	}
	for attempt := 0; ; attempt++ {
		conn, release, err := u.acquire(ctx)
		if err != nil {
			return Reply{}, u.explain(ctx, method, err)
		}
		r, err := conn.Request(ctx, method, params)
		release()
		if attempt == 0 && u.refusedToken(err) {
			continue // once, on a new session with a renewed token
		}
		if err != nil {
			return Reply{}, u.explain(ctx, method, err)
		}
		return r, nil
	}
}

// refusedToken reports whether err is the server refusing the token the
// session was opened with (it expired or was revoked early): the request
// was not carried out, and is worth one more try with a renewed token.
func (u *Upstream) refusedToken(err error) bool {
	// A 403 asks for more scope: a renewed token carries the same, so it
	// is not tried (the caller's step-up answers it).
	ar, refused := errors.AsType[*AuthRequiredError](err)
	return refused && ar.Status != http.StatusForbidden && u.authorized()
}

// Start is the asynchronous Request, for the per-call path: with a live
// pooled session it sends at once (or when call.Batch is flushed) and
// call.Done is called from the session's read loop; otherwise a goroutine
// opens the session first. Done is called exactly once. The timeout is
// the server's (Spec.RequestTimeout), or call.Timeout when shorter.
// cancel abandons the request (the
// upstream is told) with err.
func (u *Upstream) Start(call Call) (cancel func(error)) {
	method, params, done := call.Method, call.Params, call.Done
	u.mu.Lock()
	u.forgetEnded()
	conn := u.conn
	if conn == nil || !u.spec.Pooled || u.closed || conn.draining() {
		u.mu.Unlock()
		ctx, stop := context.WithCancelCause(context.Background())
		go func() {
			if t := u.timeoutOf(call); t != u.spec.RequestTimeout {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeoutCause(ctx, t, &TimeoutError{Server: u.name, Method: method, After: u.spec.RequestTimeout})
				defer cancel()
			}
			r, err := u.Request(ctx, method, params)
			if cause := context.Cause(ctx); cause != nil && errors.Is(err, context.Canceled) {
				err = cause
			}
			done(r, err)
		}()
		return stop
	}
	u.inflight++
	if u.idle != nil {
		u.idle.Stop()
	}
	u.mu.Unlock()
	call.Timeout = u.timeoutOf(call)
	call.TimeoutErr = &TimeoutError{Server: u.name, Method: method, After: u.spec.RequestTimeout}
	call.Done = func(r Reply, err error) {
		u.release()
		if u.refusedToken(err) {
			// The token was refused mid-session: one more try, on a new
			// session whose dial renews the token.
			go func() {
				r, err := u.Request(context.Background(), method, params)
				done(r, err)
			}()
			return
		}
		done(r, err)
	}
	return conn.Start(call)
}

// explain turns a context error into a TimeoutError when the request
// timeout, not the caller, ended it.
func (u *Upstream) explain(ctx context.Context, method string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &TimeoutError{Server: u.name, Method: method, After: u.spec.RequestTimeout}
	}
	return err
}

// drainWait bounds how long a request waits for a session whose upstream's
// output ended to end too (its exit is normally reported at once).
const drainWait = 2 * time.Second

// acquire returns a live session and a release func to call when done.
func (u *Upstream) acquire(ctx context.Context) (*Conn, func(), error) {
	if !u.spec.Pooled {
		if err := u.mayStart(ctx); err != nil {
			return nil, nil, err
		}
		conn, err := u.dial(ctx)
		if err != nil {
			return nil, nil, err
		}
		return conn, func() { go conn.Close(u.spec.CloseGrace) }, nil
	}
	for {
		u.mu.Lock()
		if u.closed {
			u.mu.Unlock()
			return nil, nil, fmt.Errorf("server %q: %w", u.name, ErrClosed)
		}
		u.forgetEnded()
		if conn := u.conn; conn != nil && conn.draining() {
			// Its upstream answers nothing more: wait for its end, then
			// start a fresh one.
			u.mu.Unlock()
			select {
			case <-conn.ended():
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			case <-time.After(drainWait):
				// An upstream that closed its output and lives on: it is
				// of no use, and goes.
				u.mu.Lock()
				if u.conn == conn {
					u.conn = nil
				}
				u.mu.Unlock()
				go conn.Close(u.spec.CloseGrace)
			}
			continue
		}
		if u.conn != nil {
			u.inflight++
			if u.idle != nil {
				u.idle.Stop()
			}
			conn := u.conn
			u.mu.Unlock()
			return conn, func() { u.release() }, nil
		}
		call := u.dialing
		if call == nil {
			if err := u.allowStart(); err != nil {
				u.mu.Unlock()
				if err := waitOut(ctx, err); err != nil {
					return nil, nil, err
				}
				continue
			}
			call = &dialCall{done: make(chan struct{})}
			u.dialing = call
			u.state.Status = StatusStarting
			// The dial serves every caller waiting on it, so one caller
			// giving up must not abort it; it is bounded on its own.
			go u.dialShared(context.WithoutCancel(ctx), call)
		}
		u.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-call.done:
			if call.err != nil {
				return nil, nil, call.err
			}
			// Loop: take the new conn under the lock.
		}
	}
}

// forgetEnded drops a pooled session that has ended but that watch has
// not cleared yet, so no request is sent on it; u.mu held.
func (u *Upstream) forgetEnded() {
	if u.conn != nil && u.conn.Err() != nil {
		u.conn = nil
	}
}

// Recycle retires the live session, so the next request opens one with
// the current credentials; the old one closes once the requests in flight
// on it have ended.
func (u *Upstream) Recycle() {
	u.mu.Lock()
	conn := u.conn
	u.conn = nil
	u.restarts.reset() // new credentials: try at once
	if conn != nil {
		if u.retiring == nil {
			u.retiring = map[*Conn]bool{}
		}
		u.retiring[conn] = true
	}
	u.mu.Unlock()
	if conn != nil {
		// The requests in flight on the old session end as they would
		// have (in the hub, other sessions' calls: one session's login
		// must not cut them); new ones open a session with the new
		// credentials.
		wait := u.spec.RequestTimeout
		if wait <= 0 {
			wait = retireWait
		}
		go func() {
			conn.Retire(wait, u.spec.CloseGrace)
			u.mu.Lock()
			delete(u.retiring, conn)
			u.mu.Unlock()
		}()
	}
}

// retireWait bounds how long a recycled session waits for its requests
// to end when the server has no request timeout.
const retireWait = 2 * time.Minute

// Remote reports whether the server is reached by URL: only such a
// server can ask for a login.
func (u *Upstream) Remote() bool { return u.spec.Session.URL != "" }

// Challenge is the WWW-Authenticate value of the server's last 401, if
// any: it tells a login where to find the authorization server.
func (u *Upstream) Challenge() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.challenge
}

func (u *Upstream) setError(err error) {
	status := StatusError
	if ar, ok := errors.AsType[*AuthRequiredError](err); ok {
		status = StatusLoginRequired
		if ar.WWWAuthenticate != "" {
			u.mu.Lock()
			u.challenge = ar.WWWAuthenticate
			u.mu.Unlock()
		}
	}
	msg := u.redact(err.Error())
	u.mu.Lock()
	u.state.Status, u.state.Error, u.state.Since = status, msg, time.Now()
	u.mu.Unlock()
	u.logger.Warn("upstream failed", "server", u.name, "error", msg)
}

// redact takes the entry's secrets out of msg (Spec.Redact).
func (u *Upstream) redact(msg string) string {
	if u.spec.Redact == nil {
		return msg
	}
	return u.spec.Redact(msg)
}

// redacted is err with the entry's secrets taken out of its message; its
// chain stays for errors.Is and errors.As.
func (u *Upstream) redacted(err error) error {
	if msg := u.redact(err.Error()); msg != err.Error() {
		return &redactedError{msg: msg, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// watch forgets a pooled session when it ends, so the next request starts
// a new one. A session that ends on its own soon after it started counts
// as a failed start.
func (u *Upstream) watch(conn *Conn, started time.Time) {
	<-conn.Done()
	err := conn.Err()
	u.mu.Lock()
	if u.conn == conn {
		u.conn = nil
	}
	state := err
	if err != nil && !errors.Is(err, ErrClosed) && ownFailure(err) {
		u.restarts.ended(started, u.redact(err.Error()), time.Now())
		if paused := u.restarts.paused(u.name, time.Now()); paused != nil {
			state = paused
		}
	}
	u.mu.Unlock()
	if err != nil && !errors.Is(err, ErrClosed) {
		u.setError(state)
	}
}

func (u *Upstream) release() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.inflight--
	u.armIdle()
}

// armIdle (re)starts the idle timer when nothing is in flight; u.mu held.
func (u *Upstream) armIdle() {
	if u.inflight > 0 || u.spec.IdleTTL <= 0 || u.conn == nil {
		return
	}
	if u.idle == nil {
		u.idle = time.AfterFunc(u.spec.IdleTTL, u.closeIdle)
	} else {
		u.idle.Reset(u.spec.IdleTTL)
	}
}

func (u *Upstream) closeIdle() {
	u.mu.Lock()
	conn := u.conn
	if conn == nil || u.inflight > 0 {
		u.mu.Unlock()
		return
	}
	u.conn = nil
	u.mu.Unlock()
	u.logger.Debug("closing idle upstream session", "server", u.name)
	conn.Close(u.spec.CloseGrace)
}

func (u *Upstream) onNotification(method string, params, msg json.RawMessage) {
	for _, k := range kindsChangedBy(method) {
		u.invalidate(k)
		if u.hooks.ListChanged != nil {
			u.hooks.ListChanged(u.name, k)
		}
	}
	if u.hooks.Notification != nil {
		u.hooks.Notification(u.name, method, params, msg)
	}
}

// Close shuts the live session down and refuses further requests.
func (u *Upstream) Close() {
	u.mu.Lock()
	u.closed = true
	conn := u.conn
	u.conn = nil
	if u.idle != nil {
		u.idle.Stop()
	}
	// Recycled sessions still carrying requests end with the upstream.
	var retiring []*Conn
	for c := range u.retiring {
		retiring = append(retiring, c)
	}
	u.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range retiring {
		wg.Go(func() { c.Close(u.spec.CloseGrace) })
	}
	if conn != nil {
		conn.Close(u.spec.CloseGrace)
	}
	wg.Wait()
}

// timeoutOf is how long call may take: the server's timeout, or what is
// left of it when the caller spent some already (call.Timeout: the hub's
// wait for an instance).
func (u *Upstream) timeoutOf(call Call) time.Duration {
	if call.Timeout > 0 && (u.spec.RequestTimeout <= 0 || call.Timeout < u.spec.RequestTimeout) {
		return call.Timeout
	}
	return u.spec.RequestTimeout
}
