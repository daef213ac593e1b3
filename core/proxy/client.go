package proxy

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/config"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/settings"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstreamfacts"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/jsonrpc"
)

// This file is the proxy's side of the conversation between its client
// and the upstreams: what the client can do, declared to each upstream;
// what the upstreams offer, declared to the client; and the upstreams'
// own requests, relayed to the client.

// Memo keeps facts about upstreams between runs; upstreamfacts.Memo implements it.
type Memo interface {
	upstream.TransportMemo
	upstream.RevisionMemo
	Offers(key string) (upstreamfacts.Offers, bool)
	SetOffers(key string, o upstreamfacts.Offers) error
}

// SetClientCapabilities records what the proxy's client declared at
// initialize. Upstreams are told the parts the proxy relays (roots,
// sampling, elicitation, tasks), so that a server asks only for what the
// client can give. Sessions opened before keep what they declared.
func (p *Proxy) SetClientCapabilities(c mcp.ClientCapabilities) {
	relayed := mcp.ClientCapabilities{Roots: c.Roots, Sampling: c.Sampling, Elicitation: c.Elicitation, Tasks: c.Tasks}
	p.clientCaps.Store(&relayed)
}

// SetClientRevision records how the proxy's client speaks:
// upstream.RevisionStateless (2026-07-28 requests) or RevisionInitialize
// (a session). Each upstream that speaks it too is spoken to in it, so
// that bridging is left to those that do not. Sessions opened before
// keep theirs.
func (p *Proxy) SetClientRevision(revision string) { p.clientRevision.Store(&revision) }

// upstreamRevision is the revision upstreams are asked in first: the
// client's, unless ICA_MCP_PROXY_UPSTREAM_REVISION names one.
func (p *Proxy) upstreamRevision() string {
	switch p.opts.Settings.UpstreamRevision {
	case settings.UpstreamRevisionStateless:
		return upstream.RevisionStateless
	case settings.UpstreamRevisionInitialize:
		return upstream.RevisionInitialize
	}
	if r := p.clientRevision.Load(); r != nil {
		return *r
	}
	return ""
}

func (p *Proxy) clientCapabilities() mcp.ClientCapabilities {
	if c := p.clientCaps.Load(); c != nil {
		return *c
	}
	return mcp.ClientCapabilities{}
}

// memoKey names a server in the memo: its name and the fingerprint of its
// entry, so an edited entry is not judged by what the old one offered.
func (p *Proxy) memoKey(server string) string {
	if s := p.entry(server); s != nil {
		return entryKey(s)
	}
	return server
}

// entryKey names an entry in the memo: its name and fingerprint.
func entryKey(s *config.Server) string { return s.Name + "@" + s.Fingerprint }

func offersOf(caps *mcp.ServerCapabilities) upstreamfacts.Offers {
	tasks := caps.Tasks != nil && caps.Tasks.Requests != nil && caps.Tasks.Requests.Tools != nil && caps.Tasks.Requests.Tools.Call != nil
	return upstreamfacts.Offers{Resources: caps.Resources != nil, Prompts: caps.Prompts != nil, Completions: caps.Completions != nil, Tasks: tasks,
		TasksExtension: caps.Extensions[TasksExtension] != nil}
}

func (p *Proxy) onConnected(server string, init *mcp.InitializeResult) {
	defer p.woke(server)
	if p.opts.Memo == nil {
		return
	}
	if err := p.opts.Memo.SetOffers(p.memoKey(server), offersOf(&init.Capabilities)); err != nil {
		p.log.Debug("could not remember what a server offers", "server", server, "error", err)
	}
}

// offers says what one server offers: from its live session, else from
// the memo; known is false for a server never seen.
func (p *Proxy) offers(name string) (o upstreamfacts.Offers, known bool) {
	u := p.upstream(name)
	if u == nil {
		return upstreamfacts.Offers{}, true
	}
	if caps := u.ServerCapabilities(); caps != nil {
		return offersOf(caps), true
	}
	if p.opts.Memo != nil {
		return p.opts.Memo.Offers(p.memoKey(name))
	}
	return upstreamfacts.Offers{}, false
}

// Offers says whether any mirrored server offers resources, prompts or
// completions,
// for the capabilities the proxy declares at initialize. Servers never
// seen before are waited for, at most wait; one that has not answered by
// then counts as offering nothing until the client connects again.
func (p *Proxy) Offers(ctx context.Context, wait time.Duration) upstreamfacts.Offers {
	names, _ := p.mirrorable()
	var all upstreamfacts.Offers
	var unknown []string
	for _, name := range names {
		o, known := p.offers(name)
		if !known {
			unknown = append(unknown, name)
		}
		all = union(all, o)
	}
	if len(unknown) == 0 {
		return all
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for _, name := range unknown {
		u := p.upstream(name)
		if u == nil {
			continue
		}
		select {
		case <-u.Tried():
		case <-t.C:
			return all
		case <-ctx.Done():
			return all
		}
		o, _ := p.offers(name)
		all = union(all, o)
	}
	return all
}

func union(a, b upstreamfacts.Offers) upstreamfacts.Offers {
	return upstreamfacts.Offers{Resources: a.Resources || b.Resources, Prompts: a.Prompts || b.Prompts, Completions: a.Completions || b.Completions,
		Tasks: a.Tasks || b.Tasks, TasksExtension: a.TasksExtension || b.TasksExtension}
}

// onUpstreamRequest relays an upstream's request to the client.
func (p *Proxy) onUpstreamRequest(server, method string, id, params json.RawMessage, reply func(result, rpcErr json.RawMessage)) {
	if h := p.hooks.Load().Request; h != nil {
		h(server, method, id, params, reply)
		return
	}
	reply(nil, jsonrpc.ErrorObject(mcp.METHOD_NOT_FOUND, "ica-mcp-proxy has no client to relay "+method+" to"))
}

// logLevel is the level the client set, for the upstreams that take it
// with each request (2026-07-28); "" when it set none.
func (p *Proxy) logLevel() string {
	if l := p.level.Load(); l != nil {
		return *l
	}
	return ""
}

// TasksExtension names the tasks extension of 2026-07-28.
const TasksExtension = "io.modelcontextprotocol/tasks"

// TaskServers are the mirrored servers that run tool calls as tasks.
func (p *Proxy) TaskServers() []string {
	names, _ := p.mirrorable()
	var out []string
	for _, name := range names {
		if o, _ := p.offers(name); o.Tasks {
			out = append(out, name)
		}
	}
	return out
}

// NotifyUpstreams sends a notification to every live upstream session, as
// when the client's roots change; it starts no session.
func (p *Proxy) NotifyUpstreams(method string, params json.RawMessage) {
	for _, u := range p.allUpstreams() {
		u.NotifyLive(method, params)
	}
}

// SetLogLevel passes the client's logging/setLevel on to every live
// upstream that sends log messages, and returns once they have answered
// (or after setLevelWait): a server may run requests concurrently, and a
// call the client makes next must find the level set. Their answers do
// not matter to the client, which the proxy answers itself.
func (p *Proxy) SetLogLevel(params json.RawMessage) {
	var l struct {
		Level string `json:"level"`
	}
	if json.Unmarshal(params, &l) == nil {
		p.level.Store(&l.Level)
	}
	var answered sync.WaitGroup
	for _, u := range p.allUpstreams() {
		if caps := u.ServerCapabilities(); caps == nil || caps.Logging == nil || !u.State().Running {
			continue
		}
		answered.Add(1)
		u.Start(upstream.Call{Method: "logging/setLevel", Params: params, Done: func(r upstream.Reply, err error) {
			defer answered.Done()
			if err != nil || r.Error != nil {
				p.log.Debug("upstream refused logging/setLevel", "error", err, "answer", string(r.Error))
			}
		}})
	}
	all := make(chan struct{})
	go func() {
		answered.Wait()
		close(all)
	}()
	select {
	case <-all:
	case <-time.After(setLevelWait):
	}
}

// setLevelWait bounds how long logging/setLevel waits for the upstreams.
const setLevelWait = 2 * time.Second
