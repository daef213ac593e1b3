package proxy

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/config"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/mirror"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/settings"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
)

// Lazy start. A server whose lists the tool cache has (for its entry as
// it is now) need not run for the client to see its tools, resources and
// prompts: it starts when something needs it, a call, a read, a prompt, a
// listing of its own, and until then the cached lists stand in for it.
// With ten servers registered in four runtimes, that is the difference
// between forty processes at every start and the few that get used.
//
// When such a server starts, its real lists replace the cached ones as a
// listing would (drift checked, tools/list_changed if they differ), and
// the client is told of changed resources and prompts.

// startsLazily says whether server waits to be needed: its entry's
// "start", else ICA_MCP_PROXY_START.
func (p *Proxy) startsLazily(server string) bool {
	s := p.entry(server)
	if s == nil {
		return false
	}
	switch s.Start {
	case settings.StartEager:
		return false
	case settings.StartLazy:
		return true
	}
	return p.opts.Settings.Start != settings.StartEager
}

// dormant says whether server is not running and need not be for its
// lists to be served: it starts lazily and the tool cache has its tools.
func (p *Proxy) dormant(server string) bool {
	c := p.opts.ToolCache
	if c == nil || !p.startsLazily(server) {
		return false
	}
	p.mu.RLock()
	s, u := p.cfg.Server(server), p.ups[server]
	p.mu.RUnlock()
	if s == nil || u == nil {
		return false
	}
	if st := u.State(); st.Running || st.Status == upstream.StatusStarting {
		return false
	}
	return c.Has(server, s.Fingerprint)
}

// needed leaves out of names the dormant servers: those a listing round
// need not start.
func (p *Proxy) needed(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if p.dormant(n) {
			p.log.Debug("server starts when used; its lists are the tool cache's", "server", n)
			continue
		}
		out = append(out, n)
	}
	return out
}

// Live says whether server has a session open: a request to it is sent
// at once, not after the server starts.
func (p *Proxy) Live(server string) bool {
	u := p.upstream(server)
	return u != nil && u.Live()
}

// entry is server's config entry, or nil.
func (p *Proxy) entry(server string) *config.Server {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.cfg.Server(server)
}

// cachedCatalog is a dormant server's list of kind from the tool cache.
func (p *Proxy) cachedCatalog(server string, kind mirror.CatalogKind) ([]json.RawMessage, bool) {
	c, s := p.opts.ToolCache, p.entry(server)
	if c == nil || s == nil {
		return nil, false
	}
	return c.GetList(server, s.Fingerprint, catalogLists[kind].Field())
}

// keepCatalog records a server's list of kind in the tool cache and says
// whether it differs from what the cache had.
func (p *Proxy) keepCatalog(server string, kind mirror.CatalogKind, items []json.RawMessage) (changed bool) {
	c, s := p.opts.ToolCache, p.entry(server)
	if c == nil || s == nil {
		return false
	}
	return c.PutList(server, s.Fingerprint, catalogLists[kind].Field(), items)
}

// woke is called when a session opens. The first session of a server
// whose lists were the cache's lists them for real: its tools as any
// listing does, its resources and prompts so that a client that listed
// the cached ones hears when they changed.
func (p *Proxy) woke(server string) {
	p.mu.RLock()
	fromCache := p.cached[server]
	p.mu.RUnlock()
	if !fromCache {
		return
	}
	p.inBackground(func(ctx context.Context) { p.list(ctx, server) })
	u := p.upstream(server)
	o, _ := p.offers(server)
	if u == nil {
		return
	}
	p.inBackground(func(ctx context.Context) {
		// One announcement per notification: templates change under
		// resources' (and are announced when only they changed).
		var announce []upstream.Kind
		for kind, k := range catalogLists {
			if !offersKind(o, kind) {
				continue
			}
			ctx, cancel := context.WithTimeout(ctx, p.opts.Settings.RequestTimeout)
			items, err := u.List(ctx, k)
			cancel()
			if err != nil {
				p.log.Debug("could not list", "server", server, "kind", kind, "error", err)
				continue
			}
			if p.keepCatalog(server, kind, items) {
				p.catalogs.Delete(kind)
				if k == upstream.KindResourceTemplates {
					k = upstream.KindResources
				}
				if !slices.Contains(announce, k) {
					announce = append(announce, k)
				}
			}
		}
		for _, k := range announce {
			p.listChanged(server, k)
		}
	})
}
