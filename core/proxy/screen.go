package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/drift"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/mirror"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/poison"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/jsonrpc"
)

// A server's tool list is screened before any of it is shown, and what the
// screen keeps is the one list every path serves: the mirror (tools/list),
// proxy.list_tools, proxy.search_tools, and proxy.call, which refuses a
// tool withheld. The screen, in order:
//   - refuses a tool with a member twice as malformed: readers disagree on
//     which of the two counts;
//   - removes invisible characters from every string of a tool, and flags
//     text that reads like tool poisoning (core/poison);
//   - notices drift (core/drift), hashing exactly the bytes mirrored;
//   - in strict mode withholds the tools changed since approved, new to a
//     server already approved, or flagged and not yet reviewed, until
//     `ica-mcp-proxy approve SERVER [TOOL]`.

// screening is what the screen found in one server's last list.
type screening struct {
	changes []drift.Change
	// withheld are the tools not served, and why.
	withheld map[string]string
	// held are the withheld tools' definitions (cleaned), for the user
	// to review from the CLI (ReviewTools); no path to the model has them.
	held []json.RawMessage
	// refused are the malformed tools, as mirror reasons.
	refused  []mirror.Reason
	findings []Finding
}

// Finding is a poisoning check's finding on one tool, prompt or resource.
type Finding struct {
	Server string `json:"server"`
	// Item is the tool's, prompt's or resource's upstream name.
	Item string `json:"item"`
	// Of is "tool", "prompt" or "resource".
	Of string `json:"of"`
	poison.Finding
	// Quarantined says the tool is withheld until approved (strict
	// mode).
	Quarantined bool `json:"quarantined,omitempty"`
}

// WithheldTool is a tool the screen keeps from every path, and why.
type WithheldTool struct {
	Server string `json:"server"`
	Tool   string `json:"tool"`
	Reason string `json:"reason"`
}

// screen judges a server's freshly listed tools and returns the ones to
// serve, cleaned.
func (p *Proxy) screen(server string, tools []json.RawMessage) ([]json.RawMessage, screening) {
	sc := screening{withheld: map[string]string{}}
	others := poison.NewNames(p.otherNames(server))
	kept := make([]json.RawMessage, 0, len(tools))
	flagged := map[string]bool{}
	for i, raw := range tools {
		name := gjson.GetBytes(raw, "name").Str
		malformed := ""
		switch dup := jsonrpc.DuplicateKey(raw); {
		case dup != "":
			malformed = fmt.Sprintf("has the member %q twice", dup)
		case !utf8.ValidString(name):
			// Decoders disagree on it (gjson keeps the bytes, encoding/json
			// makes them U+FFFD), so the name judged would not be the
			// name served.
			malformed = "has a name that is not valid UTF-8"
		}
		if malformed != "" {
			why := fmt.Sprintf("tool %q %s; refused as malformed", name, malformed)
			if name == "" {
				why = fmt.Sprintf("tool #%d %s; refused as malformed", i, malformed)
			}
			sc.refused = append(sc.refused, mirror.Reason{Server: server, Cap: "invalid_tool", Detail: why})
			if name != "" {
				sc.withheld[name] = why
			}
			continue
		}
		cleaned, fs := poison.CheckItemNames(raw, others)
		if len(fs) > 0 {
			name = gjson.GetBytes(cleaned, "name").Str
			flagged[name] = poison.Severe(fs)
			for _, f := range fs {
				sc.findings = append(sc.findings, Finding{Server: server, Item: name, Of: "tool", Finding: f})
			}
		}
		kept = append(kept, cleaned)
	}
	strict := p.opts.Settings.StrictTrust
	if p.opts.Drift != nil {
		changes, reviewed, err := p.opts.Drift.Observe(server, kept, strict)
		if err != nil {
			p.log.Warn("could not record tool hashes", "server", server, "error", err)
		}
		for _, c := range changes {
			p.log.Warn("tool changed since it was approved", "server", server, "tool", c.Tool, "changed", c.What)
		}
		sc.changes = changes
		for name, severe := range flagged {
			if severe && reviewed[name] {
				flagged[name] = false
			}
		}
	}
	if !strict {
		return kept, sc
	}
	approve := func(tool string) string {
		return fmt.Sprintf("review it with `ica-mcp-proxy tools --server %s --schema`, then run: ica-mcp-proxy approve %s %s", server, server, tool)
	}
	for _, c := range sc.changes {
		if c.What[0] == drift.WhatNew {
			sc.withheld[c.Tool] = "new since the server's tools were approved; " + approve(c.Tool)
			continue
		}
		sc.withheld[c.Tool] = "its " + strings.Join(c.What, " and ") + " changed since approved; " + approve(c.Tool)
	}
	for name, severe := range flagged {
		if severe && sc.withheld[name] == "" {
			sc.withheld[name] = "quarantined: its text reads like tool poisoning (see poisoning in mirror_status); " + approve(name)
		}
	}
	for i := range sc.findings {
		sc.findings[i].Quarantined = sc.withheld[sc.findings[i].Item] != ""
	}
	if len(sc.withheld) == 0 {
		return kept, sc
	}
	served := kept[:0:0]
	for _, t := range kept {
		if sc.withheld[gjson.GetBytes(t, "name").Str] == "" {
			served = append(served, t)
		} else {
			sc.held = append(sc.held, t)
		}
	}
	return served, sc
}

// otherNames are the names a server's descriptions should not name: the
// other servers' names and their tools', upstream and exposed.
func (p *Proxy) otherNames(server string) []string {
	t := p.Table()
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []string
	for name, tools := range p.lists {
		if name == server {
			continue
		}
		out = append(out, name)
		for _, raw := range tools {
			out = append(out, gjson.GetBytes(raw, "name").Str)
		}
	}
	for _, tool := range t.Tools {
		if tool.Server != server {
			out = append(out, tool.Exposed)
		}
	}
	return out
}

// keepList makes tools, screened, the list of server's upstream u (unless
// a reload replaced u meanwhile); cached says it is the tool cache's.
// Callers hold rebuildMu and rebuild after.
func (p *Proxy) keepList(server string, u Server, tools []json.RawMessage, sc screening, cached bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ups[server] != u {
		return false
	}
	if cached {
		if _, listed := p.lists[server]; listed {
			return false
		}
		p.cached[server] = true
	} else {
		delete(p.cached, server)
	}
	p.lists[server] = tools
	if p.screened == nil {
		p.screened = map[string]screening{}
	}
	p.screened[server] = sc
	return true
}

// Drifted lists the tools changed since they were approved, and whether
// any tool is withheld (strict mode).
func (p *Proxy) Drifted() ([]drift.Change, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []drift.Change
	withheld := false
	for _, sc := range p.screened {
		out = append(out, sc.changes...)
		withheld = withheld || len(sc.withheld) > 0
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Server != out[j].Server {
			return out[i].Server < out[j].Server
		}
		return out[i].Tool < out[j].Tool
	})
	return out, withheld
}

// Withheld lists every tool the screen keeps from the client, and why.
func (p *Proxy) Withheld() []WithheldTool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []WithheldTool
	for server, sc := range p.screened {
		for tool, why := range sc.withheld {
			out = append(out, WithheldTool{Server: server, Tool: tool, Reason: why})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Server != out[j].Server {
			return out[i].Server < out[j].Server
		}
		return out[i].Tool < out[j].Tool
	})
	return out
}

// Findings lists what the poisoning checks found in the tools, prompts
// and resources last listed.
func (p *Proxy) Findings() []Finding {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []Finding
	for _, sc := range p.screened {
		out = append(out, sc.findings...)
	}
	p.catalogFindings.Range(func(_, v any) bool {
		out = append(out, v.([]Finding)...)
		return true
	})
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Server != out[j].Server {
			return out[i].Server < out[j].Server
		}
		return out[i].Item < out[j].Item
	})
	return out
}

// CheckCallable says why server's tool may not be called through
// proxy.call, or nil: a withheld tool is withheld there too. In strict
// mode a server not listed in this run is listed first, so its tools are
// judged before one is called, and only a tool it listed is called; a
// server that cannot list has none approved. (Outside strict mode the
// call is not held up by a listing: a failing server would be started
// twice per call.)
func (p *Proxy) CheckCallable(ctx context.Context, server, tool string) error {
	strict := p.opts.Settings.StrictTrust
	p.mu.RLock()
	_, screened := p.screened[server]
	p.mu.RUnlock()
	if strict && !screened {
		p.list(ctx, server)
	}
	p.mu.RLock()
	sc, screened := p.screened[server]
	served := p.lists[server]
	p.mu.RUnlock()
	if why := sc.withheld[tool]; why != "" {
		return fmt.Errorf("tool %q of server %q is withheld: %s", tool, server, why)
	}
	if !strict || p.upstream(server) == nil {
		return nil // the call itself says what is wrong
	}
	// In strict mode only what was listed, screened and approved may be
	// called: a tool the server never listed was never approved either.
	if !screened {
		return fmt.Errorf("server %q: its tools could not be listed, so none is approved to call (strict mode); see proxy.mirror_status", server)
	}
	for _, t := range served {
		if gjson.GetBytes(t, "name").Str == tool {
			return nil
		}
	}
	return fmt.Errorf("server %q does not list a tool %q; in strict mode only listed, approved tools are called", server, tool)
}
