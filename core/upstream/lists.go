package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/jsonrpc"
)

// maxListPages bounds pagination against an upstream that hands out
// cursors for ever.
const maxListPages = 100

// Kind is one of the lists an MCP server offers.
type Kind int

// The lists the proxy mirrors.
const (
	KindTools Kind = iota
	KindResources
	KindResourceTemplates
	KindPrompts
	numKinds
)

var kinds = [numKinds]struct {
	method, field, changed string
}{
	KindTools:             {"tools/list", "tools", "notifications/tools/list_changed"},
	KindResources:         {"resources/list", "resources", "notifications/resources/list_changed"},
	KindResourceTemplates: {"resources/templates/list", "resourceTemplates", "notifications/resources/list_changed"},
	KindPrompts:           {"prompts/list", "prompts", "notifications/prompts/list_changed"},
}

// Field is the name of the list's field in its result ("prompts"), which
// names it in the tool cache too.
func (k Kind) Field() string { return kinds[k].field }

// ChangedMethod is the notification that says the list changed.
func (k Kind) ChangedMethod() string { return kinds[k].changed }

// kindsChangedBy returns the lists a list_changed notification makes stale.
func kindsChangedBy(method string) []Kind {
	var out []Kind
	for k := range numKinds {
		if kinds[k].changed == method {
			out = append(out, k)
		}
	}
	return out
}

// listCache is one cached list: the items, when they were fetched, and the
// listing under way that concurrent callers share.
type listCache struct {
	mu    sync.Mutex
	items []json.RawMessage
	at    time.Time
	// ttl is how long the server said its list stays fresh (ttlMs,
	// 2026-07-28); negative when it did not say.
	ttl time.Duration
	// announced says the server announces changes to this list.
	announced bool
	gen       uint64 // bumped by invalidate
	call      *listCall
}

type listCall struct {
	done  chan struct{}
	items []json.RawMessage
	ttl   time.Duration
	err   error
}

// Tools returns the upstream's tools; see List.
func (u *Upstream) Tools(ctx context.Context) ([]json.RawMessage, error) {
	return u.List(ctx, KindTools)
}

// List returns the items of one of the upstream's lists, each the raw JSON
// object it sent, from the cache while it is fresh. Concurrent callers
// share one listing.
func (u *Upstream) List(ctx context.Context, k Kind) ([]json.RawMessage, error) {
	c := &u.lists[k]
	c.mu.Lock()
	if c.items != nil && u.fresh(c) {
		items := c.items
		c.mu.Unlock()
		return items, nil
	}
	call := c.call
	if call == nil {
		call = &listCall{done: make(chan struct{})}
		c.call = call
		go u.listShared(context.WithoutCancel(ctx), k, call, c.gen)
	}
	c.mu.Unlock()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-call.done:
		return call.items, call.err
	}
}

// minListTTL bounds how often a server is listed again, whatever its
// ttlMs says: mcp-go's servers say 0 (revalidate every time), and a
// client listing in a loop would have every server listed in a loop too.
const minListTTL = time.Second

// fresh says whether a cached list may be served: for as long as the
// server said (ttlMs, at least minListTTL), else for the configured tool
// cache TTL. A server that announces changes to its lists is listed
// again when it says so, and after the tool cache TTL at the latest.
func (u *Upstream) fresh(c *listCache) bool {
	if c.items != nil && c.ttl >= 0 && !c.announced {
		return time.Since(c.at) < max(c.ttl, minListTTL)
	}
	return u.spec.ToolCacheTTL <= 0 || time.Since(c.at) < u.spec.ToolCacheTTL
}

// InvalidateTools drops the cached tool list.
func (u *Upstream) InvalidateTools() { u.invalidate(KindTools) }

func (u *Upstream) invalidate(k Kind) {
	c := &u.lists[k]
	c.mu.Lock()
	c.items = nil
	c.gen++
	c.mu.Unlock()
}

func (u *Upstream) listShared(ctx context.Context, k Kind, call *listCall, gen uint64) {
	items, ttl, err := u.fetch(ctx, k)
	announced := u.announces(k)
	c := &u.lists[k]
	c.mu.Lock()
	c.call = nil
	call.items, call.ttl, call.err = items, ttl, err
	// A list_changed that arrived while listing makes this answer stale.
	if err == nil && gen == c.gen {
		c.items, c.at, c.ttl, c.announced = items, time.Now(), ttl, announced
	}
	c.mu.Unlock()
	close(call.done)
}

// fetch lists every page of one list, and the shortest ttlMs its pages
// gave (negative: none).
func (u *Upstream) fetch(ctx context.Context, k Kind) ([]json.RawMessage, time.Duration, error) {
	method, field := kinds[k].method, kinds[k].field
	items := []json.RawMessage{}
	ttl := time.Duration(-1)
	var cursor string
	for page := 0; page < maxListPages; page++ {
		var params json.RawMessage
		if cursor != "" {
			params, _ = json.Marshal(map[string]string{"cursor": cursor})
		}
		r, err := u.Request(ctx, method, params)
		if err != nil {
			return nil, 0, err
		}
		if r.Error != nil {
			return nil, 0, fmt.Errorf("server %q: %s failed: %s", u.name, method, r.Error)
		}
		if err := jsonrpc.Validate(r.Result); err != nil {
			return nil, 0, fmt.Errorf("server %q: %s result: %w", u.name, method, err)
		}
		res := gjson.GetManyBytes(r.Result, field, "nextCursor", "ttlMs")
		if res[0].Exists() && !res[0].IsArray() {
			return nil, 0, fmt.Errorf("server %q: %s result: %q is not an array", u.name, method, field)
		}
		for _, x := range res[0].Array() {
			items = append(items, json.RawMessage(x.Raw))
		}
		if res[2].Type == gjson.Number && res[2].Int() >= 0 {
			if t := time.Duration(res[2].Int()) * time.Millisecond; ttl < 0 || t < ttl {
				ttl = t
			}
		}
		if res[1].Str == "" {
			return items, ttl, nil
		}
		cursor = res[1].Str
	}
	return nil, 0, fmt.Errorf("server %q: %s still paginating after %d pages", u.name, method, maxListPages)
}

// announces says whether the server declared that it announces changes
// to list k (listChanged).
func (u *Upstream) announces(k Kind) bool {
	caps := u.ServerCapabilities()
	switch {
	case caps == nil:
		return false
	case k == KindTools:
		return caps.Tools != nil && caps.Tools.ListChanged
	case k == KindPrompts:
		return caps.Prompts != nil && caps.Prompts.ListChanged
	default:
		return caps.Resources != nil && caps.Resources.ListChanged
	}
}

// FreshTools returns the cached tool list and whether it is still fresh.
func (u *Upstream) FreshTools() ([]json.RawMessage, bool) {
	c := &u.lists[KindTools]
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.items, c.items != nil && u.fresh(c)
}
