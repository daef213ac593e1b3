package share

import (
	"context"
	"encoding/json"
	"strconv"
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
	// roots is whose roots each instance was last given ("" for none).
	roots map[*upstream.Upstream]lease.Client
}

type route struct {
	v     *View
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
	}
	// One instance until the first session says how the server speaks.
	e.pool = lease.New(1, e.open, nil)
	e.primary = e.instance()
	return e
}

// instance makes an upstream instance whose hooks route to the views.
func (e *entry) instance() *upstream.Upstream {
	var u *upstream.Upstream
	u = upstream.New(e.name, e.spec, e.r.opener, e.r.log.Named("share"), upstream.Hooks{
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
		if u, release, ok := e.tryAcquire(c); ok {
			return u, release, nil
		}
		if e.mode.Load() == modeLeased {
			u, release, err := e.pool.Acquire(ctx, c)
			if err != nil {
				return nil, nil, err
			}
			return u, e.held(u, c, release), nil
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

// tryAcquire is acquire when it need not wait.
func (e *entry) tryAcquire(c lease.Client) (*upstream.Upstream, func(), bool) {
	switch e.mode.Load() {
	case modeShared:
		return e.primary, func() {}, true
	case modeUnknown:
		if holder, _, _ := e.pool.Holder(e.primary); holder != "" && holder != c {
			return nil, nil, false
		}
	}
	u, release, ok := e.pool.TryAcquire(c)
	if !ok {
		return nil, nil, false
	}
	return u, e.held(u, c, release), true
}

// held is called as c's lease on u begins: an instance that was given
// another session's roots is told they changed, so that it asks again
// (and its question reaches c).
func (e *entry) held(u *upstream.Upstream, c lease.Client, release func()) func() {
	e.mu.Lock()
	given, asked := e.roots[u]
	e.mu.Unlock()
	if asked && given != c {
		u.NotifyLive(string(mcp.MethodNotificationRootsListChanged), nil)
	}
	return release
}

// request routes a request the upstream sent to the session holding u;
// roots/list with none to the one that held it last.
func (e *entry) request(u *upstream.Upstream, method string, id, params json.RawMessage, reply func(result, rpcErr json.RawMessage)) {
	holder, last, _ := e.pool.Holder(u)
	to := holder
	if to == "" && method == string(mcp.MethodListRoots) {
		to = last
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
			"no session has a call in flight on this shared server, so there is no client to ask"))
	}
}

// notification routes what an instance said: progress and cancellations
// to the view they belong to, resource updates to the subscribers, the
// rest to every view.
func (e *entry) notification(u *upstream.Upstream, method string, params, msg json.RawMessage) {
	switch method {
	case string(mcp.MethodNotificationProgress):
		tok := gjson.GetBytes(params, "progressToken")
		e.mu.Lock()
		rt, ok := e.tokens[tok.Raw]
		e.mu.Unlock()
		if !ok {
			return
		}
		if p, err := sjson.SetRawBytes(params, "progressToken", rt.token); err == nil {
			params = p
		}
		rt.v.notify(method, params)
	case string(mcp.MethodNotificationCancelled):
		id := gjson.GetBytes(params, "requestId")
		e.mu.Lock()
		v := e.asked[askKey{u, id.Raw}]
		e.mu.Unlock()
		if v != nil {
			v.notify(method, params)
		}
	case string(mcp.MethodNotificationResourceUpdated):
		uri := gjson.GetBytes(params, "uri").Str
		e.mu.Lock()
		var to []*View
		for v := range e.subs[u][uri] {
			to = append(to, v)
		}
		e.mu.Unlock()
		for _, v := range to {
			v.notifyRaw(method, params, msg)
		}
	case "notifications/message":
		level := gjson.GetBytes(params, "level").Str
		for _, v := range e.viewList() {
			if v.wantsLog(level) {
				v.notifyRaw(method, params, msg)
			}
		}
	default:
		for _, v := range e.viewList() {
			v.notifyRaw(method, params, msg)
		}
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

// token gives a call's progress token a unique one of its own, routed
// back to v; forget drops it once the call has ended.
func (e *entry) token(v *View, given json.RawMessage) (unique json.RawMessage, forget func()) {
	e.mu.Lock()
	e.nextTK++
	unique = jsonrpc.AppendString(nil, "ica-share-"+strconv.FormatInt(e.nextTK, 10))
	e.tokens[string(unique)] = route{v: v, token: given}
	e.mu.Unlock()
	return unique, func() {
		e.mu.Lock()
		delete(e.tokens, string(unique))
		e.mu.Unlock()
	}
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
	empty := len(e.views) == 0
	if empty {
		e.left = time.Now()
	}
	e.mu.Unlock()
	if empty {
		e.r.unused(e)
	}
}

// idleSince says no view has used the entry for d.
func (e *entry) idleSince(d time.Duration) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.views) == 0 && !e.left.IsZero() && time.Since(e.left) >= d
}

func (e *entry) close() {
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
