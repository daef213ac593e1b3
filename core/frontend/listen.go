package frontend

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/jsonrpc"
)

// From 2026-07-28 a client gets no notification it did not ask for: it
// opens a subscriptions/listen request naming the kinds it wants (list
// changes, updates of given resources), the proxy acknowledges what it
// can deliver, and every notification sent for it carries the request's
// id as its subscription id. The stream ends when the client cancels the
// request or goes away.

// subscriptionIDPath is the sjson path of the subscription id in a
// notification's params.
const subscriptionIDPath = `_meta.io\.modelcontextprotocol/subscriptionId`

// subscription is one open subscriptions/listen request.
type subscription struct {
	id      json.RawMessage // the request's id, raw
	granted mcp.SubscriptionFilter
	uris    map[string]bool
	end     func() // ends the request
}

// wants says whether the subscription asked for a notification.
func (sub *subscription) wants(method string, params json.RawMessage) bool {
	switch method {
	case string(mcp.MethodNotificationToolsListChanged):
		return sub.granted.ToolsListChanged
	case string(mcp.MethodNotificationPromptsListChanged):
		return sub.granted.PromptsListChanged
	case string(mcp.MethodNotificationResourcesListChanged):
		return sub.granted.ResourcesListChanged
	case string(mcp.MethodNotificationResourceUpdated):
		return sub.uris[gjson.GetBytes(params, "uri").Str]
	}
	return false
}

type subscriptions struct {
	mu  sync.Mutex
	all map[*subscription]bool
}

// add opens sub once ack (which writes the acknowledgement) returns, both
// under the lock notify lists under: a change the client's acknowledged
// subscription asked for is never missed, and none comes before the
// acknowledgement.
func (l *subscriptions) add(sub *subscription, ack func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ack()
	if l.all == nil {
		l.all = map[*subscription]bool{}
	}
	l.all[sub] = true
}

func (l *subscriptions) remove(sub *subscription) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.all, sub)
}

// list returns the open subscriptions.
func (l *subscriptions) list() []*subscription {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*subscription, 0, len(l.all))
	for sub := range l.all {
		out = append(out, sub)
	}
	return out
}

// endAll ends every subscription: the client is gone.
func (l *subscriptions) endAll() {
	for _, sub := range l.list() {
		sub.end()
	}
}

// notify sends a notification to every subscription that asked for it,
// tagged with its id.
func (l *subscriptions) notify(s *Server, method string, params json.RawMessage) {
	for _, sub := range l.list() {
		if sub.wants(method, params) {
			s.write(tagged(method, params, sub.id))
		}
	}
}

// tagged is a notification carrying a subscription id in its _meta.
func tagged(method string, params, id json.RawMessage) []byte {
	if len(params) == 0 || params[0] != '{' {
		params = json.RawMessage("{}")
	}
	p, err := sjson.SetRawBytes(params, subscriptionIDPath, id)
	if err != nil {
		p = []byte(`{"_meta":{"io.modelcontextprotocol/subscriptionId":` + string(id) + `}}`)
	}
	return jsonrpc.AppendNotification(nil, method, p)
}

// listen serves subscriptions/listen: it grants what the proxy can
// deliver of what the client asks (tool list changes always; prompts and
// resources when some upstream offers them), subscribes the upstreams to
// the resources named, acknowledges, and holds the request open until
// the client cancels it.
func (s *Server) listen(ctx context.Context, env envelope, c *call) {
	if !env.rev.modern {
		s.writeError(env.ID, mcp.METHOD_NOT_FOUND, "subscriptions/listen is a request of protocol version 2026-07-28: name it in params._meta")
		return
	}
	var p struct {
		Notifications *mcp.SubscriptionFilter `json:"notifications"`
	}
	if err := json.Unmarshal(env.Params, &p); err != nil || p.Notifications == nil {
		s.writeError(env.ID, mcp.INVALID_PARAMS, "subscriptions/listen needs params.notifications")
		return
	}
	want, o := *p.Notifications, s.offered()
	granted := mcp.SubscriptionFilter{
		ToolsListChanged:     want.ToolsListChanged,
		PromptsListChanged:   want.PromptsListChanged && o.Prompts,
		ResourcesListChanged: want.ResourcesListChanged && o.Resources,
	}
	sub := &subscription{id: env.ID, uris: map[string]bool{}}
	var subscribed []func()
	defer func() {
		for _, stop := range subscribed {
			stop()
		}
	}()
	if o.Resources {
		for _, uri := range want.ResourceSubscriptions {
			server, err := s.p.ResourceServer(ctx, uri)
			var stop func()
			if err == nil {
				stop, err = s.watchResource(ctx, server, uri)
			}
			if err != nil {
				s.writeError(env.ID, mcp.INVALID_PARAMS, fmt.Sprintf("subscribing to %q: %v", uri, err))
				return
			}
			subscribed = append(subscribed, stop)
			sub.uris[uri] = true
			granted.ResourceSubscriptions = append(granted.ResourceSubscriptions, uri)
		}
	}
	sub.granted = granted
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub.end = cancel
	c.setCancel(func(error) { cancel() })

	body, _ := json.Marshal(map[string]any{"notifications": granted})
	ack := func() { s.write(tagged(mcp.MethodNotificationSubscriptionsAcknowledged, body, env.ID)) }
	if granted.IsEmpty() {
		ack()
	} else {
		s.subs.add(sub, ack)
		<-ctx.Done()
		s.subs.remove(sub)
		if c.cancelled.Load() {
			return // a cancelled request is not answered
		}
	}
	s.answer(env, json.RawMessage(`{"_meta":{"io.modelcontextprotocol/subscriptionId":`+string(env.ID)+`}}`))
}

// watchResource asks server to report updates of uri: with
// resources/subscribe, or, from a 2026-07-28 server (which has no such
// request), with a subscriptions/listen request held open. stop undoes
// it, in the background.
func (s *Server) watchResource(ctx context.Context, server, uri string) (stop func(), err error) {
	params, _ := json.Marshal(map[string]string{"uri": uri})
	r, err := s.p.Request(ctx, server, string(mcp.MethodResourcesSubscribe), params)
	switch {
	case err != nil:
		return nil, err
	case r.Error == nil:
		return func() {
			s.p.StartRequest(server, upstream.Call{Method: string(mcp.MethodResourcesUnsubscribe), Params: params, Done: func(upstream.Reply, error) {}})
		}, nil
	case !r.Stateless:
		return nil, fmt.Errorf("server %q refused: %s", server, gjson.GetBytes(r.Error, "message").Str)
	}
	listen, _ := json.Marshal(map[string]any{"notifications": map[string]any{"resourceSubscriptions": []string{uri}}})
	ended := make(chan error, 1)
	cancel := s.p.StartRequest(server, upstream.Call{Method: string(mcp.MethodSubscriptionsListen), Params: listen, Done: func(r upstream.Reply, err error) {
		if err == nil && r.Error != nil {
			err = fmt.Errorf("server %q refused: %s", server, gjson.GetBytes(r.Error, "message").Str)
		}
		ended <- err
	}})
	select {
	case err := <-ended: // a refusal comes at once
		if err == nil {
			err = fmt.Errorf("server %q ended the subscription at once", server)
		}
		return nil, err
	case <-time.After(50 * time.Millisecond):
	}
	return func() { cancel(context.Canceled) }, nil
}

// resourceWatches are the resource subscriptions a client of an
// initialize revision made (resources/subscribe), by server and URI.
type resourceWatches struct {
	mu   sync.Mutex
	stop map[string]func()
}

// subscribeResource serves a session's resources/subscribe and
// resources/unsubscribe: the upstream is asked, in its own revision.
func (s *Server) subscribeResource(ctx context.Context, env envelope) {
	server, params, err := s.route(ctx, env)
	if err != nil {
		s.writeError(env.ID, mcp.INVALID_PARAMS, err.Error())
		return
	}
	key := server + "\x00" + gjson.GetBytes(params, "uri").Str
	s.watches.mu.Lock()
	old := s.watches.stop[key]
	delete(s.watches.stop, key)
	s.watches.mu.Unlock()
	if old != nil {
		old()
	}
	if env.Method == string(mcp.MethodResourcesSubscribe) {
		stop, err := s.watchResource(ctx, server, gjson.GetBytes(params, "uri").Str)
		if err != nil {
			s.writeError(env.ID, mcp.INTERNAL_ERROR, err.Error())
			return
		}
		s.watches.mu.Lock()
		if s.watches.stop == nil {
			s.watches.stop = map[string]func(){}
		}
		s.watches.stop[key] = stop
		s.watches.mu.Unlock()
	}
	s.answer(env, json.RawMessage("{}"))
}

// logWants counts, per server, the modern requests in flight that asked
// for log messages, by lowest level: a stateless client gets an upstream's
// log messages only while one of its requests to that server wants them.
type logWants struct {
	mu sync.Mutex
	by map[string]*[8]int
}

// want records env's wish for server's log messages until release.
func (l *logWants) want(env envelope, server string) (release func()) {
	rank, ok := logRank[env.rev.logLevel]
	if !env.rev.modern || !ok {
		return func() {}
	}
	l.mu.Lock()
	if l.by == nil {
		l.by = map[string]*[8]int{}
	}
	counts := l.by[server]
	if counts == nil {
		counts = new([8]int)
		l.by[server] = counts
	}
	counts[rank]++
	l.mu.Unlock()
	return func() {
		// Log messages written just before the answer may come after it
		// (servers that queue their notifications): they are let through
		// a moment longer.
		time.AfterFunc(logGrace, func() {
			l.mu.Lock()
			counts[rank]--
			l.mu.Unlock()
		})
	}
}

// logGrace is how long a request's wish for log messages outlives it.
const logGrace = time.Second

// wanted says whether a request in flight wants server's message of level.
func (l *logWants) wanted(server, level string) bool {
	rank, ok := logRank[level]
	if !ok {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	counts := l.by[server]
	if counts == nil {
		return false
	}
	for r := 0; r <= rank; r++ {
		if counts[r] > 0 {
			return true
		}
	}
	return false
}
