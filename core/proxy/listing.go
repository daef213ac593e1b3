package proxy

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
)

// Listing: the first round that lists every server when the proxy
// starts (bounded by the list wait), the lists kept per server, and the
// listings again when a server says its list changed or the cache went
// stale.

// retryFailedAfter is how long tools/list leaves a failed server alone
// before trying to list it again.
const retryFailedAfter = 30 * time.Second

// warm fills the tool lists of the named servers, which have not been
// listed yet, from the tool cache: tools/list can then be answered at
// once, and the real lists, when the servers answer, replace them (with
// tools/list_changed if they differ).
func (p *Proxy) warm(names []string) {
	c := p.opts.ToolCache
	if c == nil {
		return
	}
	p.rebuildMu.Lock()
	defer p.rebuildMu.Unlock()
	warmed := false
	for _, name := range names {
		p.mu.RLock()
		s, u := p.cfg.Server(name), p.ups[name]
		_, listed := p.lists[name]
		p.mu.RUnlock()
		if s == nil || u == nil || listed {
			continue
		}
		tools, ok := c.Get(name, s.Fingerprint)
		if !ok {
			continue
		}
		tools, sc := p.screen(name, tools)
		if p.keepList(name, u, tools, sc, true) {
			warmed = true
		}
	}
	if warmed {
		p.rebuildLocked()
	}
}

// Start lists the tools of every mirrored server in the background, each
// on its own, except the dormant ones (see lazy.go), and watches the
// config files until ctx ends. Only the first call does anything.
func (p *Proxy) Start(ctx context.Context, watchEvery time.Duration) {
	p.startOnce.Do(func() { p.start(ctx, watchEvery) })
}

func (p *Proxy) start(ctx context.Context, watchEvery time.Duration) {
	p.firstListDeadline()
	names, _ := p.mirrorable()
	// The first round is background work too: Close ends it and waits,
	// so that nothing it records (the drift store) is written after.
	p.bgMu.Lock()
	if p.closed {
		p.bgMu.Unlock()
		close(p.initial)
		return
	}
	p.background.Add(1)
	p.bgMu.Unlock()
	listCtx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(p.life, cancel)
	done := p.listAll(listCtx, p.needed(names))
	go func() {
		<-done
		stop()
		cancel()
		close(p.initial)
		p.background.Done()
	}()
	if watchEvery > 0 {
		go p.configSource().Watch(ctx, watchEvery, p.trustInputs, func() { p.Reload(ctx) })
	}
}

// listAll lists the servers concurrently; the returned channel closes when
// all are done. Each finished listing rebuilds the table at once, so a slow
// server never holds the others back.
func (p *Proxy) listAll(ctx context.Context, names []string) <-chan struct{} {
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Go(func() { p.list(ctx, name) })
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	return done
}

// list lists one server's tools (sharing a round already under way) and
// rebuilds the table.
func (p *Proxy) list(ctx context.Context, name string) {
	p.mu.Lock()
	if ch, ok := p.listing[name]; ok {
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		return
	}
	u := p.ups[name]
	ch := make(chan struct{})
	p.listing[name] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.listing, name)
		p.mu.Unlock()
		close(ch)
	}()
	if u == nil {
		return
	}
	tools, err := u.Tools(ctx)
	if err != nil {
		p.log.Debug("could not list tools", "server", name, "error", err)
		return
	}
	p.log.Debug("listed tools", "server", name, "tools", len(tools))
	if c, s := p.opts.ToolCache, p.entry(name); c != nil && s != nil {
		c.Put(name, s.Fingerprint, tools)
	}
	tools, sc := p.screen(name, tools)
	p.rebuildMu.Lock()
	defer p.rebuildMu.Unlock()
	p.keepList(name, u, tools, sc, false)
	p.rebuildLocked()
}

// Listed says whether the first listing round has ended: every server
// answered or failed, so the lists are the servers' own, not the tool
// cache's.
func (p *Proxy) Listed() bool {
	select {
	case <-p.initial:
		return true
	default:
		return false
	}
}

// firstListDeadline is the deadline of the waits for the first listing
// round: the list wait from its start (or from the first wait, if one
// comes before).
func (p *Proxy) firstListDeadline() time.Time {
	p.listDeadline.CompareAndSwap(0, time.Now().Add(p.opts.Settings.ListWait).UnixNano())
	return time.Unix(0, p.listDeadline.Load())
}

// ListWait is how long the first tools/list may wait for servers still
// starting (ICA_MCP_PROXY_LIST_WAIT_S).
func (p *Proxy) ListWait() time.Duration { return p.opts.Settings.ListWait }

// ToolCacheTTL is how long an upstream's tool list is reused before the
// proxy lists it again.
func (p *Proxy) ToolCacheTTL() time.Duration { return p.opts.Settings.ToolCacheTTL }

// WaitListed waits for the first listing round to end, at most until the
// list wait has passed since the round started: what the CLI's commands
// report is the servers' state now, not the tool cache's. A runtime waits
// only so long after it started the proxy for all of its first lists
// (register sets a short list wait for those that wait least), so the
// capabilities and the first lists of tools, resources and prompts share
// one deadline rather than each waiting the list wait in turn.
func (p *Proxy) WaitListed(ctx context.Context) {
	wait := time.Until(p.firstListDeadline())
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-p.initial:
	case <-t.C:
	case <-ctx.Done():
	}
}

// allListed says whether every mirrored server has a tool list, listed or
// from the cache.
func (p *Proxy) allListed() bool {
	p.rebuildMu.Lock() // no list changes between its table and now
	defer p.rebuildMu.Unlock()
	names, _ := p.mirrorable()
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, n := range names {
		if _, ok := p.lists[n]; !ok {
			return false
		}
	}
	return len(names) > 0
}

// refreshStale re-lists servers whose cached list expired or was
// invalidated, in the background (inBackground).
func (p *Proxy) refreshStale() {
	names, _ := p.mirrorable()
	for _, name := range names {
		u := p.upstream(name)
		if u == nil {
			continue
		}
		if _, fresh := u.FreshTools(); fresh || p.dormant(name) {
			continue
		}
		// A server that failed is tried again, but not at every list.
		if st := u.State(); (st.Status == upstream.StatusError || st.Status == upstream.StatusLoginRequired) && time.Since(st.Since) < retryFailedAfter {
			continue
		}
		p.inBackground(func(ctx context.Context) { p.list(ctx, name) })
	}
}

func (p *Proxy) onUpstreamListChanged(server string, kind upstream.Kind) {
	if kind == upstream.KindTools {
		p.inBackground(func(ctx context.Context) { p.list(ctx, server) })
		return
	}
	p.listChanged(server, kind)
}

// listChanged tells the frontend that a server's resources or prompts
// changed; templates change with resources, under one notification.
func (p *Proxy) listChanged(server string, kind upstream.Kind) {
	if kind == upstream.KindResourceTemplates {
		return
	}
	if h := p.hooks.Load().ListChanged; h != nil {
		h(server, kind)
	}
}

func (p *Proxy) onNotification(server, method string, params, msg json.RawMessage) {
	if h := p.hooks.Load().Notification; h != nil {
		h(server, method, params, msg)
	}
}
