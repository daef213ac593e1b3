package share

import (
	"encoding/json"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
)

// A 2026-07-28 server has no resources/subscribe: a session's core
// watches a resource with a subscriptions/listen request held open
// (frontend.watchResource). On a shared instance, the entry holds one
// such request per resource for all the sessions watching it, and each
// update it brings goes to each of them once. (A request per session
// would bring every update once per session to every session: updates
// name no listener the hub could route by.)

// listenKey is one resource watched on one instance.
type listenKey struct {
	u   *upstream.Upstream
	uri string
}

// listening is the entry's request for one resource and the sessions'
// requests it serves (each one's Done, by a number of its own: a session
// may watch one resource twice).
type listening struct {
	views  map[*View]map[int]func(upstream.Reply, error)
	next   int
	cancel func(error)
	params json.RawMessage
	since  time.Time // when the entry's request was sent
}

// watchedResource is the one resource a session core's listen request
// watches, when that is all it asks for.
func watchedResource(method string, params json.RawMessage) (string, bool) {
	if method != string(mcp.MethodSubscriptionsListen) {
		return "", false
	}
	n := gjson.GetBytes(params, "notifications")
	subs := n.Get("resourceSubscriptions").Array()
	if len(n.Map()) != 1 || len(subs) != 1 || subs[0].Type != gjson.String {
		return "", false
	}
	return subs[0].Str, true
}

// listen adds v's listen request for uri on u; the entry's own request
// goes to u when v is the first. The returned cancel ends v's.
func (e *entry) listen(v *View, u *upstream.Upstream, uri string, params json.RawMessage, done func(upstream.Reply, error)) (cancel func(error)) {
	k := listenKey{u, uri}
	e.mu.Lock()
	l := e.listens[k]
	first := l == nil
	if first {
		l = &listening{views: map[*View]map[int]func(upstream.Reply, error){}, params: params}
		e.listens[k] = l
	}
	if l.views[v] == nil {
		l.views[v] = map[int]func(upstream.Reply, error){}
	}
	l.next++
	id := l.next
	l.views[v][id] = done
	e.mu.Unlock()
	if first {
		e.sendListen(k, l)
	}
	return func(err error) { e.unlisten(k, l, v, id, err) }
}

// sendListen sends the entry's listen request for k.
func (e *entry) sendListen(k listenKey, l *listening) {
	e.mu.Lock()
	l.since = time.Now()
	e.mu.Unlock()
	c := k.u.Start(upstream.Call{Method: string(mcp.MethodSubscriptionsListen), Params: l.params, Done: func(r upstream.Reply, err error) {
		e.listenEnded(k, l, r, err)
	}})
	e.mu.Lock()
	l.cancel = c
	gone := e.listens[k] != l // ended already (a refusal), or no view left
	e.mu.Unlock()
	if gone {
		c(nil)
	}
}

// relistenAfter is how long a listen request must have lived for its end
// (not a refusal) to be taken as its session's, to listen again on the
// next: the session was recycled for new credentials, or the server
// restarted.
const relistenAfter = time.Second

// unlisten ends v's request id (every one of v's when id is 0); the
// entry's goes when it served them alone.
func (e *entry) unlisten(k listenKey, l *listening, v *View, id int, err error) {
	e.mu.Lock()
	var dones []func(upstream.Reply, error)
	for i, done := range l.views[v] {
		if id == 0 || i == id {
			dones = append(dones, done)
			delete(l.views[v], i)
		}
	}
	if len(l.views[v]) == 0 {
		delete(l.views, v)
	}
	var cancel func(error)
	if len(l.views) == 0 && e.listens[k] == l {
		delete(e.listens, k)
		cancel = l.cancel
	}
	e.mu.Unlock()
	if cancel != nil {
		cancel(err)
	}
	for _, done := range dones {
		done(upstream.Reply{}, err)
	}
}

// listenEnded ends every session's request the entry's served: the
// server refused it, ended it, or its session ended.
func (e *entry) listenEnded(k listenKey, l *listening, r upstream.Reply, err error) {
	e.mu.Lock()
	if err != nil && r.Error == nil && e.listens[k] == l && len(l.views) > 0 && time.Since(l.since) >= relistenAfter && !e.closed {
		e.mu.Unlock()
		e.r.log.Debug("listening again for a resource's updates", "server", e.name, "uri", k.uri, "after", err)
		e.sendListen(k, l)
		return
	}
	if e.listens[k] == l {
		delete(e.listens, k)
	}
	views := l.views
	l.views = map[*View]map[int]func(upstream.Reply, error){}
	e.mu.Unlock()
	for _, dones := range views {
		for _, done := range dones {
			done(r, err)
		}
	}
}

// listeners are the views watching uri on u with a listen request.
func (e *entry) listeners(u *upstream.Upstream, uri string) []*View {
	var out []*View
	if l := e.listens[listenKey{u, uri}]; l != nil {
		for v := range l.views {
			out = append(out, v)
		}
	}
	return out
}

// unlistenAll ends v's listen requests, as it leaves.
func (e *entry) unlistenAll(v *View) {
	e.mu.Lock()
	var mine []listenKey
	for k, l := range e.listens {
		if _, ok := l.views[v]; ok {
			mine = append(mine, k)
		}
	}
	ls := make([]*listening, len(mine))
	for i, k := range mine {
		ls[i] = e.listens[k]
	}
	e.mu.Unlock()
	for i, k := range mine {
		e.unlisten(k, ls[i], v, 0, ErrClosed)
	}
}
