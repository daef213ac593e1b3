package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/config"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/drift"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/mirror"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
)

// ServerInfo describes one configured server.
type ServerInfo struct {
	Name      string            `json:"name"`
	Source    config.SourceKind `json:"source"`
	File      string            `json:"file"`
	Transport string            `json:"transport,omitempty"`
	Command   []string          `json:"command,omitempty"`
	URL       string            `json:"url,omitempty"`
	upstream.State
	Warnings []string `json:"warnings,omitempty"`
	// Tools is the number of tools the server offers, once listed.
	Tools *int `json:"tools,omitempty"`
	// Mirrored is the number exposed as <server>.<tool>.
	Mirrored int `json:"mirrored"`
}

// StatusBlocked is the state of a server the trust gate holds back.
const StatusBlocked = "blocked"

func (p *Proxy) blockedReason(name string) string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.blocked[name]
}

// BlockedServer is a server the proxy will not start, and why.
type BlockedServer struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// ServersReport is the answer of proxy.list_servers.
type ServersReport struct {
	Servers  []ServerInfo    `json:"servers"`
	Blocked  []BlockedServer `json:"blocked_servers"`
	Shadowed []config.Shadow `json:"shadowed,omitempty"`
	Sources  []config.Source `json:"sources"`
}

// ListServers reports every configured server and its state.
func (p *Proxy) ListServers() ServersReport {
	p.mu.RLock()
	cfg, displaced := p.cfg, p.gateResult.displaced
	p.mu.RUnlock()
	t := p.Table()
	mirrored := map[string]int{}
	for _, x := range t.Tools {
		mirrored[x.Server]++
	}
	rep := ServersReport{Servers: []ServerInfo{}, Blocked: []BlockedServer{}, Shadowed: cfg.Shadowed, Sources: cfg.Sources}
	for _, s := range cfg.Servers {
		// The config as written: expanded values may be secrets.
		info := ServerInfo{
			Name: s.Name, Source: s.Source, File: s.File, Transport: s.Redact(s.Type), URL: s.DisplayURL(),
			Command: s.DisplayCommand(), Warnings: s.Warnings, Mirrored: mirrored[s.Name],
		}
		if s.Error != "" {
			info.State = upstream.State{Status: upstream.StatusError, Error: "config: " + s.Error}
		} else if why := p.blockedReason(s.Name); why != "" {
			info.State = upstream.State{Status: StatusBlocked, Error: why}
			rep.Blocked = append(rep.Blocked, BlockedServer{Name: s.Name, Reason: why})
		} else if u := p.upstream(s.Name); u != nil {
			info.State = u.State()
			if info.State.Transport != "" {
				// The transport in use, which a url-only entry finds by probing.
				info.Transport = info.State.Transport
			}
			p.mu.RLock()
			if tools, ok := p.lists[s.Name]; ok {
				n := len(tools)
				info.Tools = &n
			}
			p.mu.RUnlock()
		}
		rep.Servers = append(rep.Servers, info)
	}
	rep.Blocked = append(rep.Blocked, displaced...)
	return rep
}

// ServerStatus is one server's line in mirror_status.
type ServerStatus struct {
	upstream.State
	Tools    *int `json:"tools,omitempty"`
	Mirrored int  `json:"mirrored"`
	// Skipped are the tools a cap kept out of the mirror.
	Skipped []string `json:"skipped,omitempty"`
}

// MirrorStatus is the answer of proxy.mirror_status.
type MirrorStatus struct {
	Sources         []config.Source         `json:"sources"`
	ServersTotal    int                     `json:"servers_total"`
	ServersMirrored int                     `json:"servers_mirrored"`
	ToolsTotal      int                     `json:"tools_total"`
	ToolsMirrored   int                     `json:"tools_mirrored"`
	Truncated       bool                    `json:"truncated"`
	Reasons         []mirror.Reason         `json:"reasons"`
	Blocked         []BlockedServer         `json:"blocked_servers"`
	Servers         map[string]ServerStatus `json:"servers"`
	// ToolsChanged are tools whose description or schema changed since
	// they were approved; Withheld says they are not mirrored (strict
	// mode) until `ica-mcp-proxy tools approve SERVER`.
	ToolsChanged []drift.Change `json:"tools_changed,omitempty"`
	Withheld     bool           `json:"tools_changed_withheld,omitempty"`
	// ToolsWithheld are the tools no path serves until approved (strict
	// mode: changed, new to an approved server, malformed, or flagged by
	// the poisoning checks), each with why and how to approve it.
	ToolsWithheld []WithheldTool `json:"tools_withheld,omitempty"`
	// Poisoning is what the poisoning checks found in the names and
	// descriptions of tools, prompts and resources: invisible characters
	// removed, and text that reads like an injection.
	Poisoning []Finding `json:"poisoning,omitempty"`
}

// MirrorStatus reports what is mirrored, what was cut and why, and the
// state of every server.
func (p *Proxy) MirrorStatus() MirrorStatus {
	t := p.Table()
	servers := p.ListServers()
	_, serverCut := p.mirrorable()
	st := MirrorStatus{
		Sources:       servers.Sources,
		ServersTotal:  len(servers.Servers),
		ToolsTotal:    t.ToolsTotal,
		ToolsMirrored: len(t.Tools),
		Truncated:     t.Truncated || serverCut != nil,
		Reasons:       []mirror.Reason{},
		Blocked:       servers.Blocked,
		Servers:       map[string]ServerStatus{},
	}
	if serverCut != nil {
		st.Reasons = append(st.Reasons, *serverCut)
	}
	st.Reasons = append(st.Reasons, t.Reasons...)
	for _, s := range servers.Servers {
		if s.Mirrored > 0 {
			st.ServersMirrored++
		}
		st.Servers[s.Name] = ServerStatus{State: s.State, Tools: s.Tools, Mirrored: s.Mirrored, Skipped: t.Skipped[s.Name]}
	}
	// What the last lists of prompts, resources and templates cut or
	// renamed (a project server's duplicate of a home server's URI, say).
	for _, kind := range []mirror.CatalogKind{mirror.KindPrompts, mirror.KindResources, mirror.KindResourceTemplates} {
		if c, ok := p.catalogs.Load(kind); ok {
			st.Reasons = append(st.Reasons, c.(*mirror.Catalog).Reasons...)
		}
	}
	st.ToolsChanged, st.Withheld = p.Drifted()
	st.ToolsWithheld = p.Withheld()
	st.Poisoning = p.Findings()
	p.mu.RLock()
	for _, sc := range p.screened {
		st.Reasons = append(st.Reasons, sc.refused...)
	}
	p.mu.RUnlock()
	return st
}

// ToolInfo describes one upstream tool for proxy.list_tools.
type ToolInfo struct {
	Name         string          `json:"name"`
	MirroredAs   string          `json:"mirrored_as,omitempty"`
	Title        string          `json:"title,omitempty"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"inputSchema,omitempty"`
	OutputSchema json.RawMessage `json:"outputSchema,omitempty"`
	// Withheld says why the tool is withheld (ReviewTools only).
	Withheld string `json:"withheld,omitempty"`
}

// ToolsReport is the answer of proxy.list_tools.
type ToolsReport struct {
	Server string     `json:"server"`
	Tools  []ToolInfo `json:"tools"`
	// Withheld are the tools not served (strict mode), and why.
	Withheld []WithheldTool `json:"withheld"`
}

// ListTools lists a server's tools, starting it if needed, whether or not
// they are mirrored.
func (p *Proxy) ListTools(ctx context.Context, server string, includeSchema bool) (ToolsReport, error) {
	return p.listTools(ctx, server, includeSchema, false)
}

// ReviewTools is ListTools for the user at the CLI, who must read a
// withheld tool before approving it: the withheld tools are listed among
// the others, described, each with why it is withheld (ToolInfo.Withheld).
// Never for the model: that is what withholding keeps from it.
func (p *Proxy) ReviewTools(ctx context.Context, server string, includeSchema bool) (ToolsReport, error) {
	return p.listTools(ctx, server, includeSchema, true)
}

func (p *Proxy) listTools(ctx context.Context, server string, includeSchema, review bool) (ToolsReport, error) {
	u, err := p.Upstream(server)
	if err != nil {
		return ToolsReport{}, err
	}
	raw, err := u.Tools(ctx)
	if err != nil {
		return ToolsReport{}, err
	}
	// The screened list, as every other path serves it (screen.go): a
	// withheld tool is named, with why, but not described.
	served, sc := p.screen(server, raw)
	p.rebuildMu.Lock()
	p.keepList(server, u, served, sc, false)
	p.rebuildLocked() // the table never lags the lists (see allListed)
	p.rebuildMu.Unlock()
	t := p.Table()
	rep := ToolsReport{Server: server, Tools: make([]ToolInfo, 0, len(served)), Withheld: []WithheldTool{}}
	for tool, why := range sc.withheld {
		rep.Withheld = append(rep.Withheld, WithheldTool{Server: server, Tool: tool, Reason: why})
	}
	sort.Slice(rep.Withheld, func(i, j int) bool { return rep.Withheld[i].Tool < rep.Withheld[j].Tool })
	shown := served
	if review {
		shown = append(slices.Clone(served), sc.held...)
	}
	for i, r := range shown {
		var ti ToolInfo
		if err := json.Unmarshal(r, &ti); err != nil {
			return ToolsReport{}, fmt.Errorf("server %q: tool #%d is not valid: %w", server, i, err)
		}
		if !includeSchema {
			ti.InputSchema, ti.OutputSchema = nil, nil
		}
		ti.MirroredAs = t.ExposedName(server, ti.Name)
		ti.Withheld = sc.withheld[ti.Name]
		rep.Tools = append(rep.Tools, ti)
	}
	return rep, nil
}
