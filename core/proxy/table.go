package proxy

import (
	"context"
	"fmt"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/config"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/mirror"
)

// The name table: the mirror of every server's tools under the names the
// client sees, rebuilt whenever a list changes, within the guardrails.

func (p *Proxy) limits() mirror.Limits {
	s := p.opts.Settings
	return mirror.Limits{
		MaxServers:        s.MaxServers,
		MaxToolsPerServer: s.MaxToolsPerServer,
		MaxTotalTools:     s.MaxTotalTools,
		MaxSchemaBytes:    s.MaxSchemaBytes,
		MaxNameLen:        s.ToolNameMax,
		SchemaCompat:      s.SchemaCompat,
	}
}

// rebuild recomputes the mirror table and tells the frontend if the
// exposed tools changed.
func (p *Proxy) rebuild() {
	p.rebuildMu.Lock()
	defer p.rebuildMu.Unlock()
	p.rebuildLocked()
}

// rebuildLocked is rebuild with rebuildMu held. Whoever changes p.lists
// holds rebuildMu from the change to the rebuild, so that allListed never
// sees a list the table does not have yet.
func (p *Proxy) rebuildLocked() {
	in, filtered := p.mirrorInputs()
	p.search.invalidate()
	t := mirror.Build(in, p.limits(), p.opts.Settings.Separator, p.opts.Reserved)
	t.Reasons = append(filtered, t.Reasons...)
	if p.opts.Settings.MirrorNone {
		t.Reasons = append(t.Reasons, mirror.Reason{Cap: "mirror", Detail: "ICA_MCP_PROXY_MIRROR=none: only proxy.* tools are exposed; find tools with proxy.search_tools and call them with proxy.call"})
	}
	old := p.table.Swap(t)
	if !mirror.Same(old, t) {
		if h := p.hooks.Load().ToolsChanged; h != nil {
			h()
		}
	}
}

// mirrorInputs are the servers' tools the mirror is built from, after
// each server's include/exclude filter, and what the filters left out.
func (p *Proxy) mirrorInputs() ([]mirror.ServerTools, []mirror.Reason) {
	names, _ := p.mirrorable()
	var filtered []mirror.Reason
	p.mu.RLock()
	in := make([]mirror.ServerTools, 0, len(names))
	for _, name := range names {
		tools, ok := p.lists[name]
		if !ok || p.opts.Settings.MirrorNone {
			continue
		}
		var prefix *string
		home := false
		if s := p.cfg.Server(name); s != nil {
			home = s.Source == config.SourceHome
			f := mirror.Filter{Include: s.IncludeTools, Exclude: s.ExcludeTools}
			var dropped int
			if tools, dropped = f.Apply(tools); dropped > 0 {
				filtered = append(filtered, mirror.Reason{Server: name, Cap: "filter", Limit: dropped,
					Detail: fmt.Sprintf("%d tool(s) left out by include_tools/exclude_tools", dropped)})
			}
			prefix = s.Prefix
		}
		in = append(in, mirror.ServerTools{Server: name, Tools: tools, Prefix: prefix, Home: home})
	}
	p.mu.RUnlock()
	return in, filtered
}

// NamesUnder is the tool names the mirror would expose, now, to a proxy
// run with another separator and name budget (a runtime's registered
// entry sets both); reserved are that proxy's broker names.
func (p *Proxy) NamesUnder(sep string, maxLen int, reserved []string) []string {
	in, _ := p.mirrorInputs()
	lim := p.limits()
	lim.MaxNameLen = maxLen
	t := mirror.Build(in, lim, sep, reserved)
	out := make([]string, 0, len(t.Tools)+len(reserved))
	out = append(out, reserved...)
	for _, tool := range t.Tools {
		out = append(out, tool.Exposed)
	}
	return out
}

// Table returns the current mirror table.
func (p *Proxy) Table() *mirror.Table { return p.table.Load() }

// Lookup finds an exposed tool. A name not (yet) in the table waits, at
// most the list wait, for the first listing round: a client may call a tool
// it remembers from an earlier session before the upstreams have started.
func (p *Proxy) Lookup(ctx context.Context, name string) (mirror.Tool, bool) {
	if tool, ok := p.Table().Lookup(name); ok {
		return tool, true
	}
	p.WaitListed(ctx)
	return p.Table().Lookup(name)
}

// ToolsForList is what tools/list serves: it waits (at most the configured
// list wait) for the first listing round, refreshes stale lists in the
// background, and returns the table.
func (p *Proxy) ToolsForList(ctx context.Context) *mirror.Table {
	select {
	case <-p.initial:
	default:
		if p.allListed() {
			// From the tool cache: the servers are still starting, and
			// their real lists will follow (tools/list_changed).
			p.log.Debug("tools/list answered before the first listing ended: every server has a list")
			return p.Table()
		}
	}
	p.WaitListed(ctx)
	select {
	case <-p.initial:
		p.refreshStale()
	default:
		p.log.Debug("tools/list answered before the first listing ended", "context", ctx.Err())
	}
	return p.Table()
}
