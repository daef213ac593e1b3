package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// maxToolPages bounds tools/list pagination against an upstream that hands
// out cursors for ever.
const maxToolPages = 100

// Tools returns the upstream's tools, each the raw JSON object it sent,
// from the cache while it is fresh. Concurrent callers share one listing.
func (u *Upstream) Tools(ctx context.Context) ([]json.RawMessage, error) {
	u.toolsMu.Lock()
	if u.tools != nil && (u.spec.ToolCacheTTL <= 0 || time.Since(u.toolsAt) < u.spec.ToolCacheTTL) {
		tools := u.tools
		u.toolsMu.Unlock()
		return tools, nil
	}
	call := u.toolsCall
	if call == nil {
		call = &toolsCall{done: make(chan struct{})}
		u.toolsCall = call
		gen := u.toolsGen
		go u.listShared(context.WithoutCancel(ctx), call, gen)
	}
	u.toolsMu.Unlock()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-call.done:
		return call.tools, call.err
	}
}

// InvalidateTools drops the cached tool list.
func (u *Upstream) InvalidateTools() {
	u.toolsMu.Lock()
	u.tools = nil
	u.toolsGen++
	u.toolsMu.Unlock()
}

func (u *Upstream) listShared(ctx context.Context, call *toolsCall, gen uint64) {
	tools, err := u.listTools(ctx)
	u.toolsMu.Lock()
	u.toolsCall = nil
	call.tools, call.err = tools, err
	// A list_changed that arrived while listing makes this answer stale.
	if err == nil && gen == u.toolsGen {
		u.tools, u.toolsAt = tools, time.Now()
	}
	u.toolsMu.Unlock()
	close(call.done)
}

func (u *Upstream) listTools(ctx context.Context) ([]json.RawMessage, error) {
	tools := []json.RawMessage{}
	var cursor string
	for page := 0; page < maxToolPages; page++ {
		var params json.RawMessage
		if cursor != "" {
			params, _ = json.Marshal(map[string]string{"cursor": cursor})
		}
		r, err := u.Request(ctx, "tools/list", params)
		if err != nil {
			return nil, err
		}
		if r.Error != nil {
			return nil, fmt.Errorf("server %q: tools/list failed: %s", u.name, r.Error)
		}
		var res struct {
			Tools      []json.RawMessage `json:"tools"`
			NextCursor string            `json:"nextCursor"`
		}
		if err := json.Unmarshal(r.Result, &res); err != nil {
			return nil, fmt.Errorf("server %q: tools/list result is not valid: %w", u.name, err)
		}
		tools = append(tools, res.Tools...)
		if res.NextCursor == "" {
			return tools, nil
		}
		cursor = res.NextCursor
	}
	return nil, fmt.Errorf("server %q: tools/list still paginating after %d pages", u.name, maxToolPages)
}

// FreshTools returns the cached tool list and whether it is still fresh.
func (u *Upstream) FreshTools() ([]json.RawMessage, bool) {
	u.toolsMu.Lock()
	defer u.toolsMu.Unlock()
	fresh := u.tools != nil && (u.spec.ToolCacheTTL <= 0 || time.Since(u.toolsAt) < u.spec.ToolCacheTTL)
	return u.tools, fresh
}
