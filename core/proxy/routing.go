package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
)

// Routing: finding a server's Upstream and sending it requests.

// RequestTimeout bounds one request to an upstream.
func (p *Proxy) RequestTimeout() time.Duration { return p.opts.Settings.RequestTimeout }

// allUpstreams returns every configured upstream, for work done on all.
func (p *Proxy) allUpstreams() []Server {
	p.mu.RLock()
	defer p.mu.RUnlock()
	all := make([]Server, 0, len(p.ups))
	for _, u := range p.ups {
		all = append(all, u)
	}
	return all
}

func (p *Proxy) upstream(name string) Server {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.ups[name]
}

// ErrUnknownServer is returned for a server name that is not configured.
var ErrUnknownServer = errors.New("unknown server")

// Upstream returns the server's upstream, or an error saying why there is
// none: not configured, or a broken entry.
func (p *Proxy) Upstream(name string) (Server, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if u, ok := p.ups[name]; ok {
		return u, nil
	}
	if s := p.cfg.Server(name); s != nil && s.Error != "" {
		return nil, fmt.Errorf("server %q is not usable: %s (%s)", name, s.Error, s.File)
	}
	if why := p.blocked[name]; why != "" {
		return nil, fmt.Errorf("server %q is %s", name, why)
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownServer, name)
}

// CallTool calls tool on server with the raw tools/call params (whose name
// must already be the upstream's).
func (p *Proxy) CallTool(ctx context.Context, server string, params json.RawMessage) (upstream.Reply, error) {
	return p.Request(ctx, server, "tools/call", params)
}

// Request sends any request to a server and waits for its answer.
func (p *Proxy) Request(ctx context.Context, server, method string, params json.RawMessage) (upstream.Reply, error) {
	u, err := p.Upstream(server)
	if err != nil {
		return upstream.Reply{}, err
	}
	r, err := u.Request(ctx, method, params)
	if ar, ok := insufficientScope(err); ok {
		return p.stepUp(server, method, params, ar)
	}
	return r, err
}

// StartRequest sends any request to a server, asynchronously (see
// upstream.Upstream.Start): call.Done is called exactly once; cancel
// abandons it with err.
func (p *Proxy) StartRequest(server string, call upstream.Call) (cancel func(error)) {
	method, params, done := call.Method, call.Params, call.Done
	u, err := p.Upstream(server)
	if err != nil {
		done(upstream.Reply{}, err)
		return func(error) {}
	}
	if p.opts.Auth == nil || !u.Remote() {
		return u.Start(call)
	}
	call.Done = func(r upstream.Reply, err error) {
		if ar, ok := insufficientScope(err); ok {
			// Off the session's read loop: starting a login fetches
			// metadata.
			go func() { done(p.stepUp(server, method, params, ar)) }()
			return
		}
		done(r, err)
	}
	return u.Start(call)
}
