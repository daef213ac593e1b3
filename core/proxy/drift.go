package proxy

import (
	"encoding/json"

	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/drift"
)

// checkDrift records a server's tools and returns the list to mirror:
// in strict mode, without the tools changed since they were approved.
func (p *Proxy) checkDrift(server string, tools []json.RawMessage) ([]json.RawMessage, []drift.Change) {
	if p.opts.Drift == nil {
		return tools, nil
	}
	changes, err := p.opts.Drift.Observe(server, tools)
	if err != nil {
		p.log.Warn("could not record tool hashes", "server", server, "error", err)
	}
	for _, c := range changes {
		p.log.Warn("tool changed since it was approved", "server", server, "tool", c.Tool, "changed", c.What)
	}
	if len(changes) == 0 || !p.opts.Settings.StrictTrust {
		return tools, changes
	}
	withheld := map[string]bool{}
	for _, c := range changes {
		withheld[c.Tool] = true
	}
	kept := make([]json.RawMessage, 0, len(tools))
	for _, t := range tools {
		if !withheld[gjson.GetBytes(t, "name").Str] {
			kept = append(kept, t)
		}
	}
	return kept, changes
}

// Drifted lists the tools changed since they were approved, and whether
// they are withheld (strict mode).
func (p *Proxy) Drifted() ([]drift.Change, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []drift.Change
	for _, cs := range p.drifted {
		out = append(out, cs...)
	}
	return out, p.opts.Settings.StrictTrust && len(out) > 0
}
