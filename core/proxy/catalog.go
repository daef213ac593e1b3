package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/config"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/mirror"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/poison"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstreamfacts"
)

// Resources, resource templates and prompts are listed when the client
// asks, from each upstream's cached list (a dormant server's from the tool
// cache); see mirror.BuildCatalog for how they are named.

var catalogLists = map[mirror.CatalogKind]upstream.Kind{
	mirror.KindResources:         upstream.KindResources,
	mirror.KindResourceTemplates: upstream.KindResourceTemplates,
	mirror.KindPrompts:           upstream.KindPrompts,
}

// Catalog lists one kind from every mirrored server that offers it (or
// may: a server never seen is asked), waiting for each at most the list
// wait (during the first round, what is left of it); a server that fails
// or is slow is left out of this answer.
func (p *Proxy) Catalog(ctx context.Context, kind mirror.CatalogKind) *mirror.Catalog {
	names, _ := p.mirrorable()
	ctx, cancel := context.WithTimeout(ctx, p.catalogWait())
	defer cancel()
	lists := make([]mirror.ServerItems, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		o, known := p.offers(name)
		u := p.upstream(name)
		if u == nil || (known && !offersKind(o, kind)) {
			continue
		}
		if p.dormant(name) {
			// Its last list stands in for it until it is needed. A list
			// never cached is asked for, once: the server starts.
			if items, ok := p.cachedCatalog(name, kind); ok {
				lists[i] = p.serverItems(name, kind, items)
				continue
			}
		}
		wg.Go(func() {
			items, err := u.List(ctx, catalogLists[kind])
			if err != nil {
				p.log.Debug("could not list", "server", name, "kind", kind, "error", err)
				return
			}
			p.keepCatalog(name, kind, items)
			lists[i] = p.serverItems(name, kind, items)
		})
	}
	wg.Wait()
	in := lists[:0]
	for _, l := range lists {
		if l.Server != "" {
			in = append(in, l)
		}
	}
	c := mirror.BuildCatalog(kind, in, p.limits(), p.opts.Settings.Separator)
	p.catalogs.Store(kind, c)
	return c
}

// serverItems is server's list of kind, screened, as the mirror takes it.
func (p *Proxy) serverItems(server string, kind mirror.CatalogKind, items []json.RawMessage) mirror.ServerItems {
	p.mu.RLock()
	s := p.cfg.Server(server)
	p.mu.RUnlock()
	si := mirror.ServerItems{Server: server, Items: p.screenItems(server, kind, items)}
	if s != nil {
		si.Prefix, si.Home = s.Prefix, s.Source == config.SourceHome
	}
	return si
}

// offersKind says whether o includes kind: prompts, or resources and
// their templates.
func offersKind(o upstreamfacts.Offers, kind mirror.CatalogKind) bool {
	if kind == mirror.KindPrompts {
		return o.Prompts
	}
	return o.Resources
}

// lastCatalog is the catalog last built of kind, or a new one.
func (p *Proxy) lastCatalog(ctx context.Context, kind mirror.CatalogKind) *mirror.Catalog {
	if c, ok := p.catalogs.Load(kind); ok {
		return c.(*mirror.Catalog)
	}
	return p.Catalog(ctx, kind)
}

// PromptByName finds an exposed prompt.
func (p *Proxy) PromptByName(ctx context.Context, name string) (mirror.Item, bool) {
	if it, ok := p.lastCatalog(ctx, mirror.KindPrompts).Lookup(name); ok {
		return it, true
	}
	return p.Catalog(ctx, mirror.KindPrompts).Lookup(name)
}

// ResourceServer says which server to ask for uri: the one that listed
// it, else the one whose template matches it best, else the only server
// offering resources.
func (p *Proxy) ResourceServer(ctx context.Context, uri string) (string, error) {
	for _, fresh := range []bool{false, true} {
		get := p.lastCatalog
		if fresh {
			get = p.Catalog
		}
		if it, ok := get(ctx, mirror.KindResources).ByURI(uri); ok {
			// A project server listing a URI under a home server's
			// template does not take it from the home server.
			if tm, ok := get(ctx, mirror.KindResourceTemplates).MatchTemplate(uri); ok && tm.Home && !it.Home {
				return tm.Server, nil
			}
			return it.Server, nil
		}
		if it, ok := get(ctx, mirror.KindResourceTemplates).MatchTemplate(uri); ok {
			return it.Server, nil
		}
	}
	names, _ := p.mirrorable()
	var offering []string
	for _, name := range names {
		if o, _ := p.offers(name); o.Resources {
			offering = append(offering, name)
		}
	}
	switch len(offering) {
	case 0:
		return "", fmt.Errorf("no upstream server offers resources; %s cannot be read", uri)
	case 1:
		return offering[0], nil
	}
	return "", fmt.Errorf("no upstream server lists resource %s, and %d servers offer resources (%v); it cannot be routed", uri, len(offering), offering)
}

// catalogWait bounds a catalog request: what is left of the list wait
// while the first listing round runs, so that a runtime's first lists of
// tools, resources and prompts all answer by the same deadline (it may
// treat the server as connected only when all have), and the list wait
// once the round has ended.
func (p *Proxy) catalogWait() time.Duration {
	select {
	case <-p.initial:
		return p.opts.Settings.ListWait
	default:
	}
	// Servers that are up answer from their lists at once; the floor
	// leaves them time to.
	return max(time.Until(p.firstListDeadline()), 100*time.Millisecond)
}

// screenItems removes invisible characters from the strings of a
// server's prompts or resources and records what the
// poisoning checks find in them (mirror_status shows it). Unlike a tool,
// a flagged prompt or resource is not withheld: the client shows it to the
// user to choose, not to the model to act on.
func (p *Proxy) screenItems(server string, kind mirror.CatalogKind, items []json.RawMessage) []json.RawMessage {
	of := "resource"
	if kind == mirror.KindPrompts {
		of = "prompt"
	}
	var found []Finding
	out := make([]json.RawMessage, len(items))
	for i, raw := range items {
		cleaned, fs := poison.CheckItemNames(raw, nil)
		out[i] = cleaned
		for _, f := range fs {
			found = append(found, Finding{Server: server, Item: gjson.GetBytes(cleaned, "name").Str, Of: of, Finding: f})
		}
	}
	key := [2]string{server, string(kind)}
	if len(found) == 0 {
		p.catalogFindings.Delete(key)
	} else {
		p.catalogFindings.Store(key, found)
	}
	return out
}
