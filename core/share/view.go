package share

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/lease"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/jsonrpc"
)

// View is one session's core's handle on a shared entry: a proxy.Server.
// It finds its entry when first used, once the session's client has said
// how it speaks, and moves if that changes.
type View struct {
	r           *Registry
	client      lease.Client
	name        string
	fingerprint string
	max         int // instances of a legacy entry
	spec        upstream.Spec
	hooks       upstream.Hooks
	log         hclog.Logger // the session's own, or nil

	mu       sync.Mutex
	e        *entry
	revision string
	closed   bool
	// pins are extra holds on instances kept for this session until it
	// ends (see pin).
	pins map[*upstream.Upstream]func()
}

// ErrClosed is a view used after its session's core closed it, or after
// the hub closed.
var ErrClosed = errors.New("the shared server is closed")

// entry is the view's entry for how its client speaks now; nil once
// closed.
func (v *View) entry() *entry {
	revision := ""
	if v.hooks.ClientRevision != nil {
		revision = v.hooks.ClientRevision()
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil
	}
	if v.e != nil && v.revision == revision {
		return v.e
	}
	var caps json.RawMessage
	if v.hooks.Capabilities != nil {
		caps, _ = json.Marshal(v.hooks.Capabilities())
	}
	e := v.r.join(entryKey(v.fingerprint, v.spec, revision, caps), v)
	if v.e != nil && v.e != e {
		v.unpin()
		v.e.leave(v)
	}
	v.e, v.revision = e, revision
	return e
}

// Start implements proxy.Server: the call goes to the instance the
// session may use now, or, when it must wait for one, once it may.
func (v *View) Start(call upstream.Call) (cancel func(error)) {
	e := v.entry()
	if e == nil {
		call.Done(upstream.Reply{}, v.closedErr())
		return func(error) {}
	}
	if u, release, ok := e.tryAcquire(v.client); ok {
		return v.startOn(e, u, release, call)
	}
	ctx, stop := context.WithCancelCause(context.Background())
	stopTimer := context.CancelFunc(func() {})
	waitStarted := time.Now()
	if t := v.spec.RequestTimeout; t > 0 {
		ctx, stopTimer = context.WithTimeoutCause(ctx, t, &WaitError{Server: v.name, Method: call.Method, After: t, Instances: e.max})
	}
	var (
		mu      sync.Mutex
		started func(error)
		ended   error
	)
	go func() {
		u, release, err := e.acquire(ctx, v.client)
		if cause := context.Cause(ctx); err != nil && cause != nil {
			err = cause
		}
		stopTimer()
		stop(nil)
		mu.Lock()
		if err == nil && ended != nil {
			release()
			err = ended
		}
		if err != nil {
			mu.Unlock()
			call.Done(upstream.Reply{}, err)
			return
		}
		started = func(error) {} // cancels wait for startOn below
		mu.Unlock()
		// The wait was part of the call's time: what is left of the
		// timeout is the call's.
		if t := v.spec.RequestTimeout; t > 0 {
			call.Timeout = max(t-time.Since(waitStarted), time.Millisecond)
		}
		// The caller's batch belongs to its goroutine, which flushed it
		// long ago: a request held in it now would wait for the client's
		// next message. It goes at once.
		call.Batch = nil
		inner := v.startOn(e, u, release, call)
		mu.Lock()
		started = inner
		cancelled := ended
		mu.Unlock()
		if cancelled != nil {
			inner(cancelled)
		}
	}()
	return func(err error) {
		mu.Lock()
		if ended == nil {
			ended = err
		}
		inner := started
		mu.Unlock()
		if inner != nil {
			inner(err)
			return
		}
		stop(err)
	}
}

// startOn sends call on u, prepared for sharing (prepare), with the
// lease released when it ends.
func (v *View) startOn(e *entry, u *upstream.Upstream, release func(), call upstream.Call) func(error) {
	e.used(u, v.client)
	if uri, ok := watchedResource(call.Method, call.Params); ok && e.mode.Load() == modeShared {
		release()
		return e.listen(v, u, uri, call.Params, call.Done)
	}
	params, local, after := v.prepare(e, u, call.Method, call.Params)
	if local != nil {
		release()
		call.Done(*local, nil)
		return func(error) {}
	}
	var abandoned atomic.Bool
	call.Params = params
	done := call.Done
	call.Done = func(r upstream.Reply, err error) {
		r = after(r, err)
		if err != nil && (abandoned.Load() || isTimeout(err)) {
			v.pin(e, u)
		}
		release()
		done(r, err)
	}
	cancel := u.Start(call)
	return func(err error) {
		abandoned.Store(true)
		cancel(err)
	}
}

// Request implements proxy.Server.
func (v *View) Request(ctx context.Context, method string, params json.RawMessage) (upstream.Reply, error) {
	e := v.entry()
	if e == nil {
		return upstream.Reply{}, v.closedErr()
	}
	u, release, err := e.acquire(ctx, v.client)
	if err != nil {
		return upstream.Reply{}, fmt.Errorf("server %q: %w", v.name, err)
	}
	defer release()
	e.used(u, v.client)
	params, local, after := v.prepare(e, u, method, params)
	if local != nil {
		return *local, nil
	}
	r, err := u.Request(ctx, method, params)
	if err != nil && (ctx.Err() != nil || isTimeout(err)) {
		v.pin(e, u)
	}
	return after(r, err), err
}

// WaitError is a call that found no instance of its server free within
// its timeout: each was leased to another session's calls. Nothing was
// sent to the server.
type WaitError struct {
	Server    string
	Method    string
	After     time.Duration
	Instances int
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("server %q: %s waited %s for an instance, and every one (max_instances: %d) served another session's calls; it was not sent (raise max_instances in the entry, or try again)",
		e.Server, e.Method, e.After, e.Instances)
}

// isTimeout says the request timed out: the upstream was told to cancel,
// and may go on with it all the same.
func isTimeout(err error) bool {
	_, ok := errors.AsType[*upstream.TimeoutError](err)
	return ok
}

// pin keeps u leased to the view's session until the session ends: a
// call that was abandoned (cancelled, timed out) or that runs on as a
// task may still ask questions, which must reach no other session.
func (v *View) pin(e *entry, u *upstream.Upstream) {
	if e.mode.Load() == modeShared {
		return
	}
	// The session holds u now (the call's own lease).
	release, ok := e.pool.Pin(u, v.client)
	if !ok {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.pins[u] != nil || v.closed {
		release()
		return
	}
	if v.pins == nil {
		v.pins = map[*upstream.Upstream]func(){}
	}
	v.pins[u] = release
}

// prepare readies a request for u: a progress token of its own, a
// resource subscription counted per instance, a task only its creator
// may reach. local, when set, is the answer given here; after is given
// the upstream's answer, and returns the one to pass on.
func (v *View) prepare(e *entry, u *upstream.Upstream, method string, params json.RawMessage) (_ json.RawMessage, local *upstream.Reply, after func(upstream.Reply, error) upstream.Reply) {
	var forget func() // set when the call was given a token
	var then func(upstream.Reply, error) upstream.Reply
	switch method {
	case string(mcp.MethodResourcesSubscribe):
		if e.mode.Load() == modeShared {
			// A 2026-07-28 server has no resources/subscribe: refused
			// here as it would be there, at once, so that no session
			// takes a subscription of another's in flight for its own
			// (the core watches with subscriptions/listen instead).
			return nil, &upstream.Reply{Stateless: true, Error: jsonrpc.ErrorObject(mcp.METHOD_NOT_FOUND,
				"resources/subscribe is not a request of 2026-07-28; watch with subscriptions/listen")}, nil
		}
		uri := gjson.GetBytes(params, "uri").Str
		if !e.subscribe(u, uri, v) {
			return nil, &upstream.Reply{Result: json.RawMessage(`{}`)}, nil
		}
		then = func(r upstream.Reply, err error) upstream.Reply {
			if err != nil || r.Error != nil {
				e.unsubscribe(v, &uri) // refused: nobody is subscribed
			}
			return r
		}
	case string(mcp.MethodResourcesUnsubscribe):
		uri := gjson.GetBytes(params, "uri").Str
		here := false
		for other, uris := range e.unsubscribe(v, &uri) {
			if other == u {
				here = true
				continue
			}
			for _, s := range uris {
				unsubscribeOn(other, s)
			}
		}
		if !here {
			return nil, &upstream.Reply{Result: json.RawMessage(`{}`)}, nil
		}
	case string(mcp.MethodTasksGet), string(mcp.MethodTasksResult), string(mcp.MethodTasksCancel), upstream.MethodTasksUpdate:
		id := gjson.GetBytes(params, "taskId").Str
		if !e.ownsTask(v, id) {
			return nil, &upstream.Reply{Error: jsonrpc.ErrorObject(mcp.INVALID_PARAMS, "unknown task "+id)}, nil
		}
	case string(mcp.MethodTasksList):
		then = func(r upstream.Reply, err error) upstream.Reply {
			if err == nil && r.Result != nil {
				r.Result = e.ownTasks(v, r.Result)
			}
			return r
		}
	}
	if tok := gjson.GetBytes(params, "_meta.progressToken"); tok.Exists() {
		var unique json.RawMessage
		unique, forget = e.token(v, u, json.RawMessage(tok.Raw))
		if p, err := sjson.SetRawBytes(params, "_meta.progressToken", unique); err == nil {
			params = p
		}
	}
	return params, nil, func(r upstream.Reply, err error) upstream.Reply {
		// Progress may trail the answer: mcp-go's stdio server writes
		// notifications from a goroutine of their own, and the demo's
		// reached the hub after its result. A proxy of the session's own
		// passes such progress on; the hub keeps the token's route a
		// while for it.
		if forget != nil {
			time.AfterFunc(lateProgress, forget)
		}
		if then != nil {
			r = then(r, err)
		}
		if id := createdTask(r); err == nil && id != "" {
			// A task runs on after this answer: it is v's, and so is
			// the instance it runs on.
			e.createdTask(v, id)
			v.pin(e, u)
		}
		return r
	}
}

// createdTask is the task an answer says its call created: nested
// (2025-11-25, result.task), or flat (2026-07-28).
func createdTask(r upstream.Reply) string {
	if id := gjson.GetBytes(r.Result, "task.taskId"); id.Type == gjson.String {
		return id.Str
	}
	return upstream.FlatTask(r)
}

// lateProgress is how long a call's progress token is still routed after
// its answer.
const lateProgress = 5 * time.Second

// notify gives the view's core a notification made of params.
func (v *View) notify(method string, params json.RawMessage) {
	v.notifyRaw(method, params, jsonrpc.AppendNotification(nil, method, params))
}

func (v *View) notifyRaw(method string, params, msg json.RawMessage) {
	if h := v.hooks.Notification; h != nil {
		h(v.name, method, params, msg)
	}
}

// wantsLog says whether the view's client takes log messages of level.
func (v *View) wantsLog(level string) bool {
	if v.hooks.LogLevel == nil {
		return true
	}
	want := v.hooks.LogLevel()
	return want == "" || levelRank(level) >= levelRank(want)
}

func (v *View) closedErr() error { return fmt.Errorf("server %q: %w", v.name, ErrClosed) }

// primary is the instance the entry's lists and state come from.
func (v *View) primary() *upstream.Upstream {
	if e := v.entry(); e != nil {
		return e.primary
	}
	return nil
}

// each runs f on every instance of the view's entry.
func (v *View) each(f func(u *upstream.Upstream)) {
	e := v.entry()
	if e == nil {
		return
	}
	for _, u := range e.instances() {
		f(u)
	}
}

// State implements proxy.Server: the primary instance's.
func (v *View) State() upstream.State {
	if u := v.primary(); u != nil {
		return u.State()
	}
	return upstream.State{Status: upstream.StatusError, Error: ErrClosed.Error()}
}

// Tools implements proxy.Server: every instance of an entry offers the
// same, so the primary's list serves.
func (v *View) Tools(ctx context.Context) ([]json.RawMessage, error) {
	if u := v.primary(); u != nil {
		return u.Tools(ctx)
	}
	return nil, v.closedErr()
}

// List implements proxy.Server.
func (v *View) List(ctx context.Context, k upstream.Kind) ([]json.RawMessage, error) {
	if u := v.primary(); u != nil {
		return u.List(ctx, k)
	}
	return nil, v.closedErr()
}

// FreshTools implements proxy.Server.
func (v *View) FreshTools() ([]json.RawMessage, bool) {
	if u := v.primary(); u != nil {
		return u.FreshTools()
	}
	return nil, false
}

// InvalidateTools implements proxy.Server.
func (v *View) InvalidateTools() { v.each(func(u *upstream.Upstream) { u.InvalidateTools() }) }

// ServerCapabilities implements proxy.Server.
func (v *View) ServerCapabilities() *mcp.ServerCapabilities {
	if u := v.primary(); u != nil {
		return u.ServerCapabilities()
	}
	return nil
}

// Challenge implements proxy.Server.
func (v *View) Challenge() string {
	if u := v.primary(); u != nil {
		return u.Challenge()
	}
	return ""
}

// Tried implements proxy.Server.
func (v *View) Tried() <-chan struct{} {
	if u := v.primary(); u != nil {
		return u.Tried()
	}
	closed := make(chan struct{})
	close(closed)
	return closed
}

// Remote implements proxy.Server.
func (v *View) Remote() bool { return v.spec.Session.URL != "" }

// Recycle implements proxy.Server: every instance opens a new session
// (with new credentials) at its next request.
func (v *View) Recycle() { v.each(func(u *upstream.Upstream) { u.Recycle() }) }

// Live implements proxy.Server.
func (v *View) Live() bool {
	live := false
	v.each(func(u *upstream.Upstream) { live = live || u.Live() })
	return live
}

// NotifyLive implements proxy.Server: a notification of the session's
// client reaches the instances that serve, or last served, it; a roots
// change, only those that were given its roots.
func (v *View) NotifyLive(method string, params json.RawMessage) {
	e := v.entry()
	if e == nil {
		return
	}
	if e.mode.Load() == modeShared {
		e.primary.NotifyLive(method, params)
		return
	}
	for _, u := range e.pool.Instances() {
		holder, last, _ := e.pool.Holder(u)
		e.mu.Lock()
		given, asked := e.roots[u]
		e.mu.Unlock()
		mine := holder == v.client || holder == "" && last == v.client
		if method == string(mcp.MethodNotificationRootsListChanged) && asked {
			// An instance that asked for roots is told of a change by
			// the session it asked; one that never asked, as any other
			// notification.
			mine = given == v.client
		}
		if mine {
			u.NotifyLive(method, params)
		}
	}
}

// Close implements proxy.Server: the view leaves its entry, which stays
// open for the linger when no other session uses it.
func (v *View) Close() {
	v.mu.Lock()
	e := v.e
	v.closed, v.e = true, nil
	v.unpin()
	v.mu.Unlock()
	if e != nil {
		e.leave(v)
	}
}

// unpin releases the view's pins; v.mu is held.
func (v *View) unpin() {
	for _, release := range v.pins {
		release()
	}
	v.pins = nil
}
