package share

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/lease"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/jsonrpc"
)

// How an entry's instances are shared, known once its first session opens.
const (
	modeUnknown int32 = iota
	// modeShared: a stateless upstream, one instance for every call.
	modeShared
	// modeLeased: a legacy upstream, instances leased to one session.
	modeLeased
)

// entry is one shared upstream entry: its instances and the views (one
// per session) that use them.
type entry struct {
	r    *Registry
	key  string
	name string // the first view's name for the server, in logs
	spec upstream.Spec
	max  int
	pool *lease.Pool[*upstream.Upstream]
	// primary is the first instance: the one every call shares in
	// modeShared, and the one lists are read from.
	primary *upstream.Upstream
	handed  bool // primary given to the pool
	mode    atomic.Int32

	mu    sync.Mutex
	views map[lease.Client]*View
	// left is when the last view left; zero while one uses the entry.
	left time.Time
	// tokens routes progress back: a call's unique token to its view
	// and the token the view's client gave.
	tokens map[string]route
	nextTK int64
	// asked routes an upstream's cancellation of a request it sent to
	// the view the request went to.
	asked map[askKey]*View
	// subs are the views subscribed to each resource, per instance.
	subs map[*upstream.Upstream]map[string]map[*View]bool
	// roots is whose roots each instance was last given ("" for none);
	// rootsAsked, a channel closed when an instance told its roots
	// changed has asked the new holder for them.
	roots      map[*upstream.Upstream]lease.Client
	rootsAsked map[*upstream.Upstream]rootsWait
	// tasks are the views that created each task (2025-11-25 tasks):
	// only they see it, ask for it, or hear of it.
	tasks map[string]*View
	// listens are the resources watched with listen requests on a
	// shared instance (listen.go).
	listens map[listenKey]*listening
	closed  bool
	// users are the sessions each instance has served since it started.
	users map[*upstream.Upstream]map[lease.Client]bool
}

type rootsWait struct {
	c    lease.Client
	done chan struct{}
}

type route struct {
	v     *View
	u     *upstream.Upstream // the instance the call went to
	token json.RawMessage
}

type askKey struct {
	u  *upstream.Upstream
	id string
}

func newEntry(r *Registry, key string, first *View) *entry {
	e := &entry{
		r: r, key: key, name: first.name, spec: first.spec, max: first.max,
		views:  map[lease.Client]*View{},
		tokens: map[string]route{},
		asked:  map[askKey]*View{},
		subs:   map[*upstream.Upstream]map[string]map[*View]bool{},
		roots:  map[*upstream.Upstream]lease.Client{},
		tasks:  map[string]*View{},

		listens:    map[listenKey]*listening{},
		users:      map[*upstream.Upstream]map[lease.Client]bool{},
		rootsAsked: map[*upstream.Upstream]rootsWait{},
	}
	// One instance until the first session says how the server speaks.
	e.pool = lease.New(1, e.open, nil)
	e.primary = e.instance()
	return e
}

// instance makes an upstream instance whose hooks route to the views.
func (e *entry) instance() *upstream.Upstream {
	var u *upstream.Upstream
	logs := &instanceLogs{e: e}
	log := fanOut(e.r.log.Name(), e.r.log)
	log.RegisterSink(logs)
	defer func() { logs.u.Store(u) }()
	u = upstream.New(e.name, e.spec, e.r.opener, log, upstream.Hooks{
		Notification: func(_, method string, params, msg json.RawMessage) { e.notification(u, method, params, msg) },
		ListChanged: func(_ string, k upstream.Kind) {
			for _, v := range e.viewList() {
				if h := v.hooks.ListChanged; h != nil {
					h(v.name, k)
				}
			}
		},
		Request: func(_, method string, id, params json.RawMessage, reply func(result, rpcErr json.RawMessage)) {
			e.request(u, method, id, params, reply)
		},
		Capabilities: func() mcp.ClientCapabilities {
			if v := e.anyView(); v != nil && v.hooks.Capabilities != nil {
				return v.hooks.Capabilities()
			}
			return mcp.ClientCapabilities{}
		},
		ClientRevision: func() string {
			if v := e.anyView(); v != nil && v.hooks.ClientRevision != nil {
				return v.hooks.ClientRevision()
			}
			return ""
		},
		LogLevel: e.logLevel,
		Connected: func(_ string, init *mcp.InitializeResult) {
			if u == e.primary {
				e.learned(init)
			}
			e.restarted(u)
			for _, v := range e.viewList() {
				if h := v.hooks.Connected; h != nil {
					h(v.name, init)
				}
			}
		},
		Credentials: func(ctx context.Context, _ string, refused *upstream.Refusal) (upstream.Credentials, error) {
			v := e.anyView()
			if v == nil || v.hooks.Credentials == nil {
				return upstream.Credentials{}, nil
			}
			return v.hooks.Credentials(ctx, v.name, refused)
		},
		Took: func(ctx context.Context, _ string, sent upstream.Credentials) {
			if v := e.anyView(); v != nil && v.hooks.Took != nil {
				v.hooks.Took(ctx, v.name, sent)
			}
		},
	})
	return u
}

// open gives the pool the primary first, then new instances.
func (e *entry) open(context.Context) (*upstream.Upstream, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.handed {
		e.handed = true
		return e.primary, nil
	}
	return e.instance(), nil
}

// learned sets the mode from what the primary's first session speaks.
func (e *entry) learned(init *mcp.InitializeResult) {
	if init == nil || e.mode.Load() != modeUnknown {
		return
	}
	if mcp.IsModernProtocol(init.ProtocolVersion) {
		e.mode.CompareAndSwap(modeUnknown, modeShared)
		return
	}
	if e.mode.CompareAndSwap(modeUnknown, modeLeased) {
		e.pool.SetMax(e.max)
	}
}

// acquire returns the instance for one call of client c and the release
// to call when the call ends.
func (e *entry) acquire(ctx context.Context, c lease.Client) (*upstream.Upstream, func(), error) {
	for {
		u, release, ok := e.tryLease(c)
		if !ok && e.mode.Load() == modeLeased {
			var err error
			if u, release, err = e.pool.Acquire(ctx, c); err != nil {
				return nil, nil, err
			}
			ok = true
		}
		if ok {
			if err := e.refreshRoots(ctx, u, c); err != nil {
				release()
				return nil, nil, err
			}
			return u, release, nil
		}
		// Not known yet, and another session's first call holds the
		// primary: its session says how the server speaks.
		select {
		case <-e.primary.Tried():
			if e.mode.CompareAndSwap(modeUnknown, modeLeased) {
				// It failed to open: lease, which is always safe.
				e.pool.SetMax(e.max)
			}
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// tryAcquire is acquire when it need not wait: not for an instance, nor
// for one that must first ask c for its roots.
func (e *entry) tryAcquire(c lease.Client) (*upstream.Upstream, func(), bool) {
	u, release, ok := e.tryLease(c)
	if ok && e.needsRoots(u, c) {
		release()
		return nil, nil, false
	}
	return u, release, ok
}

// tryLease takes an instance for c if none need be waited for.
func (e *entry) tryLease(c lease.Client) (*upstream.Upstream, func(), bool) {
	switch e.mode.Load() {
	case modeShared:
		return e.primary, func() {}, true
	case modeUnknown:
		if holder, _, _ := e.pool.Holder(e.primary); holder != "" && holder != c {
			return nil, nil, false
		}
	}
	return e.pool.TryAcquire(c)
}

// rootsRefreshLimit bounds how long a call waits for an instance that was
// given another session's roots to ask its new holder for them.
const rootsRefreshLimit = 2 * time.Second

// needsRoots says u was given roots of a session other than c.
func (e *entry) needsRoots(u *upstream.Upstream, c lease.Client) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	given, asked := e.roots[u]
	return asked && given != c
}

// refreshRoots, as c's lease on u begins, tells u its roots changed when
// it was given another session's, and waits (a while) for it to ask c:
// c's call must not run with another session's roots.
func (e *entry) refreshRoots(ctx context.Context, u *upstream.Upstream, c lease.Client) error {
	if !e.needsRoots(u, c) {
		return nil
	}
	w := rootsWait{c: c, done: make(chan struct{})}
	e.mu.Lock()
	e.rootsAsked[u] = w
	e.mu.Unlock()
	u.NotifyLive(string(mcp.MethodNotificationRootsListChanged), nil)
	timer := time.NewTimer(rootsRefreshLimit)
	defer timer.Stop()
	select {
	case <-w.done:
	case <-timer.C:
		// It does not ask again (it read its roots once): the call
		// goes ahead, as it would with a server of its own.
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// restarted forgets what an instance's previous session was given or
// asked: a new process knows none of it.
func (e *entry) restarted(u *upstream.Upstream) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.subs, u)
	delete(e.roots, u)
	delete(e.users, u)
	for k := range e.asked {
		if k.u == u {
			delete(e.asked, k)
		}
	}
}

// holderView is the view of the session holding u, else the one that
// held it last; nil when none did or it has left.
func (e *entry) holderView(u *upstream.Upstream) *View {
	holder, last, _ := e.pool.Holder(u)
	if holder == "" {
		holder = last
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.views[holder]
}

// request routes a request the upstream sent to the session holding u;
// roots/list with none to the one that held it last. A shared
// (stateless) instance's questions come inside its answers: a request of
// its own names no session, and is refused.
func (e *entry) request(u *upstream.Upstream, method string, id, params json.RawMessage, reply func(result, rpcErr json.RawMessage)) {
	if e.mode.Load() == modeShared {
		reply(nil, jsonrpc.ErrorObject(mcp.INVALID_REQUEST,
			"this server is shared between sessions and speaks 2026-07-28: it must ask inside a call's answer (input_required), not by a request of its own"))
		return
	}
	holder, last, _ := e.pool.Holder(u)
	to := holder
	if to == "" {
		// Outside any call: a server only one session has used asks that
		// session, as a server of its own would; roots/list, the session
		// that held it last.
		if sole := e.soleView(u); sole != nil {
			to = sole.client
		} else if method == string(mcp.MethodListRoots) {
			to = last
		}
	}
	e.mu.Lock()
	v := e.views[to]
	if v != nil && v.hooks.Request != nil {
		e.asked[askKey{u, string(id)}] = v
	}
	if method == string(mcp.MethodListRoots) {
		e.roots[u] = to
		if v == nil {
			e.roots[u] = ""
		}
		if w, ok := e.rootsAsked[u]; ok && w.c == to {
			close(w.done)
			delete(e.rootsAsked, u)
		}
	}
	e.mu.Unlock()
	switch {
	case v != nil && v.hooks.Request != nil:
		v.hooks.Request(v.name, method, id, params, func(result, rpcErr json.RawMessage) {
			e.mu.Lock()
			delete(e.asked, askKey{u, string(id)})
			e.mu.Unlock()
			reply(result, rpcErr)
		})
	case method == string(mcp.MethodListRoots):
		// No session has used this instance yet: it has no roots until
		// one does (and it is then told they changed).
		reply(json.RawMessage(`{"roots":[]}`), nil)
	default:
		reply(nil, jsonrpc.ErrorObject(mcp.INVALID_REQUEST,
			"this server is shared between sessions and none has a call in flight on it, so there is no client to ask"))
	}
}

// used records that u serves a call of c's.
func (e *entry) used(u *upstream.Upstream, c lease.Client) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.users[u]
	if m == nil {
		m = map[lease.Client]bool{}
		e.users[u] = m
	}
	m[c] = true
}

// soleView is the view of the one session u has served a call of since
// it started, if only one has (and it is still here); when none has, the
// entry's one view, if it has one only (lists, which any session reads,
// serve none in particular). Else nil.
func (e *entry) soleView(u *upstream.Upstream) *View {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch users := e.users[u]; {
	case len(users) == 1:
		for c := range users {
			return e.views[c]
		}
	case len(users) == 0 && len(e.views) == 1:
		for _, v := range e.views {
			return v
		}
	}
	return nil
}

// notification routes what an instance said: progress, cancellations and
// a task's status to the view they belong to, resource updates to the
// subscribers. The rest goes, from a leased instance, to the session
// holding it (or that held it last); from a shared one, to every view.
func (e *entry) notification(u *upstream.Upstream, method string, params, msg json.RawMessage) {
	var to []*View
	switch method {
	case string(mcp.MethodNotificationProgress):
		tok := gjson.GetBytes(params, "progressToken")
		e.mu.Lock()
		rt, ok := e.tokens[tok.Raw]
		e.mu.Unlock()
		switch {
		case ok && rt.u == u:
			if p, err := sjson.SetRawBytes(params, "progressToken", rt.token); err == nil {
				rt.v.notify(method, p)
			}
		case !ok && e.mode.Load() != modeShared && !strings.HasPrefix(tok.Str, tokenPrefix):
			// Not a call's (a leased instance's progress of its own, as
			// after a request of its own): to the one session the
			// instance has served, if one only.
			if v := e.soleView(u); v != nil {
				v.notifyRaw(method, params, msg)
			}
		}
		return
	case string(mcp.MethodNotificationCancelled):
		id := gjson.GetBytes(params, "requestId")
		e.mu.Lock()
		if v := e.asked[askKey{u, id.Raw}]; v != nil {
			to = append(to, v)
		}
		e.mu.Unlock()
	case string(mcp.MethodNotificationTasksStatus):
		e.mu.Lock()
		if v := e.tasks[gjson.GetBytes(params, "taskId").Str]; v != nil {
			to = append(to, v)
		}
		e.mu.Unlock()
	case string(mcp.MethodNotificationResourceUpdated):
		uri := gjson.GetBytes(params, "uri").Str
		e.mu.Lock()
		for v := range e.subs[u][uri] {
			to = append(to, v)
		}
		to = append(to, e.listeners(u, uri)...)
		e.mu.Unlock()
	default:
		switch {
		case e.mode.Load() != modeShared:
			if v := e.holderView(u); v != nil {
				to = append(to, v)
			}
		case method == "notifications/message":
			// A shared instance's log line names no call, and may be of
			// one session's (logs.go: concerned).
			to = e.concerned(u)
		default:
			to = e.viewList()
		}
		if method == "notifications/message" {
			level := gjson.GetBytes(params, "level").Str
			to = slices.DeleteFunc(to, func(v *View) bool { return !v.wantsLog(level) })
		}
	}
	for _, v := range to {
		v.notifyRaw(method, params, msg)
	}
}

// logLevel is the most verbose level any view's client asked for: the
// views pick what each wants of it.
func (e *entry) logLevel() string {
	best := ""
	for _, v := range e.viewList() {
		if v.hooks.LogLevel == nil {
			continue
		}
		if l := v.hooks.LogLevel(); l != "" && (best == "" || levelRank(l) < levelRank(best)) {
			best = l
		}
	}
	return best
}

// tokenPrefix begins the progress tokens the hub gives calls.
const tokenPrefix = "ica-share-"

// token gives a call's progress token a unique one of its own, routed
// back to v; forget drops it once the call has ended.
func (e *entry) token(v *View, u *upstream.Upstream, given json.RawMessage) (unique json.RawMessage, forget func()) {
	e.mu.Lock()
	e.nextTK++
	unique = jsonrpc.AppendString(nil, tokenPrefix+strconv.FormatInt(e.nextTK, 10))
	e.tokens[string(unique)] = route{v: v, u: u, token: given}
	e.mu.Unlock()
	return unique, func() {
		e.mu.Lock()
		delete(e.tokens, string(unique))
		e.mu.Unlock()
	}
}

// createdTask records that v's call created task id.
func (e *entry) createdTask(v *View, id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tasks[id] = v
}

// ownsTask says v created task id.
func (e *entry) ownsTask(v *View, id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tasks[id] == v
}

// ownTasks keeps, of a tasks/list result, the tasks v created.
func (e *entry) ownTasks(v *View, result json.RawMessage) json.RawMessage {
	kept := []byte{'['}
	gjson.GetBytes(result, "tasks").ForEach(func(_, task gjson.Result) bool {
		if e.ownsTask(v, task.Get("taskId").Str) {
			if len(kept) > 1 {
				kept = append(kept, ',')
			}
			kept = append(kept, task.Raw...)
		}
		return true
	})
	out, err := sjson.SetRawBytes(result, "tasks", append(kept, ']'))
	if err != nil {
		return json.RawMessage(`{"tasks":[]}`)
	}
	return out
}

// subscribe records v's subscription to uri on u; first says the
// instance was not subscribed yet, so the request goes to it.
func (e *entry) subscribe(u *upstream.Upstream, uri string, v *View) (first bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	byURI := e.subs[u]
	if byURI == nil {
		byURI = map[string]map[*View]bool{}
		e.subs[u] = byURI
	}
	if byURI[uri] == nil {
		byURI[uri] = map[*View]bool{}
		first = true
	}
	byURI[uri][v] = true
	return first
}

// unsubscribe drops v's subscriptions to uri (every uri when uri is
// nil) and returns the instances left with no subscriber, to be told.
func (e *entry) unsubscribe(v *View, uri *string) map[*upstream.Upstream][]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[*upstream.Upstream][]string{}
	for u, byURI := range e.subs {
		for s, views := range byURI {
			if uri != nil && s != *uri || !views[v] {
				continue
			}
			delete(views, v)
			if len(views) == 0 {
				delete(byURI, s)
				out[u] = append(out[u], s)
			}
		}
	}
	return out
}

func (e *entry) join(v *View) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.views[v.client] = v
	e.left = time.Time{}
}

// leave drops v; the entry lingers once no view is left.
func (e *entry) leave(v *View) {
	e.unlistenAll(v)
	for u, uris := range e.unsubscribe(v, nil) {
		for _, uri := range uris {
			unsubscribeOn(u, uri)
		}
	}
	e.mu.Lock()
	if e.views[v.client] == v {
		delete(e.views, v.client)
	}
	for tok, rt := range e.tokens {
		if rt.v == v {
			delete(e.tokens, tok)
		}
	}
	for k, av := range e.asked {
		if av == v {
			delete(e.asked, k)
		}
	}
	for id, tv := range e.tasks {
		if tv == v {
			delete(e.tasks, id)
		}
	}
	empty := len(e.views) == 0
	if empty {
		e.left = time.Now()
	}
	e.mu.Unlock()
	if empty {
		e.r.unused(e)
	}
}

func (e *entry) status() EntryStatus {
	st := EntryStatus{Server: e.name, Mode: [...]string{"unknown", "shared", "leased"}[e.mode.Load()], Sessions: []string{}}
	e.mu.Lock()
	for c := range e.views {
		st.Sessions = append(st.Sessions, string(c))
	}
	e.mu.Unlock()
	sort.Strings(st.Sessions)
	for _, u := range e.instances() {
		s := u.State()
		holder, _, _ := e.pool.Holder(u)
		st.Instances = append(st.Instances, InstanceStatus{State: s.Status, Detail: s.Detail, Holder: string(holder)})
	}
	return st
}

// idleSince says no view has used the entry for d.
func (e *entry) idleSince(d time.Duration) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.views) == 0 && !e.left.IsZero() && time.Since(e.left) >= d
}

func (e *entry) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, u := range e.pool.Close() {
		wg.Go(u.Close)
	}
	e.mu.Lock()
	handed := e.handed
	e.mu.Unlock()
	if !handed {
		wg.Go(e.primary.Close)
	}
	wg.Wait()
}

// instances are the entry's instances: the pool's, or the primary before
// the pool has taken it.
func (e *entry) instances() []*upstream.Upstream {
	if all := e.pool.Instances(); len(all) > 0 {
		return all
	}
	return []*upstream.Upstream{e.primary}
}

func (e *entry) viewList() []*View {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*View, 0, len(e.views))
	for _, v := range e.views {
		out = append(out, v)
	}
	return out
}

// anyView is a view whose hooks speak for all (they share the key).
func (e *entry) anyView() *View {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, v := range e.views {
		return v
	}
	return nil
}

// unsubscribeOn tells u its last subscriber to uri is gone.
func unsubscribeOn(u *upstream.Upstream, uri string) {
	params, _ := json.Marshal(map[string]string{"uri": uri})
	u.Start(upstream.Call{Method: string(mcp.MethodResourcesUnsubscribe), Params: params, Done: func(upstream.Reply, error) {}})
}

// levelRank orders the log levels of RFC 5424, most verbose first.
func levelRank(l string) int {
	for i, s := range []string{"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"} {
		if s == l {
			return i
		}
	}
	return 0
}
