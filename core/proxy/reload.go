package proxy

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/sjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/config"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// Configuration: loading the config files, turning each entry into an
// upstream's Spec, and applying a changed configuration on reload.

func (p *Proxy) configOptions() config.Options {
	return config.Options{
		Cwd:        p.opts.Cwd,
		Home:       p.opts.Settings.Home,
		PreferHome: p.opts.Settings.PreferHome,
		LookupEnv:  p.opts.LookupEnv,
	}
}

// configSource is where the configuration comes from.
func (p *Proxy) configSource() ConfigSource {
	if p.opts.Config != nil {
		return p.opts.Config
	}
	return ownFiles{p.configOptions()}
}

func (p *Proxy) loadConfig() *config.Config {
	cfg := p.configSource().Load()
	for _, src := range cfg.Sources {
		if src.Error != "" {
			p.log.Error("config file not loaded", "error", src.Error)
		}
	}
	for _, s := range cfg.Servers {
		if s.Error != "" {
			p.log.Error("server entry not usable", "server", s.Name, "file", s.File, "error", s.Error)
		}
		for _, w := range s.Warnings {
			p.log.Warn("server entry", "server", s.Name, "file", s.File, "warning", w)
		}
	}
	return cfg
}

// apply makes cfg current: upstreams of removed or changed servers are
// closed, new ones prepared. It returns the servers to list again.
func (p *Proxy) apply(cfg *config.Config) []string {
	cfg, g := p.gate(cfg)
	blocked := g.blocked
	p.mu.Lock()
	old := p.cfg
	// A home server without cwd runs in the project folder only while it
	// is trusted: when that changes, it starts again in the other.
	moved := old != nil && p.gateResult.projectTrusted != g.projectTrusted
	p.cfg = cfg
	p.blocked = blocked
	p.gateResult = g
	var toClose []Server
	var changed []string
	for name, u := range p.ups {
		s := cfg.Server(name)
		if s == nil || s.Error != "" || blocked[name] != "" || old == nil || old.Server(name) == nil || old.Server(name).Fingerprint != s.Fingerprint ||
			moved && s.Source == config.SourceHome && s.Type == config.TypeStdio && s.Cwd == "" {
			toClose = append(toClose, u)
			delete(p.ups, name)
			delete(p.lists, name)
			delete(p.cached, name)
		}
	}
	for _, s := range cfg.Servers {
		if s.Error != "" || blocked[s.Name] != "" {
			delete(p.lists, s.Name)
			delete(p.cached, s.Name)
			continue
		}
		if _, ok := p.ups[s.Name]; ok {
			continue
		}
		hooks := upstream.Hooks{
			Notification:   p.onNotification,
			ListChanged:    p.onUpstreamListChanged,
			Request:        p.onUpstreamRequest,
			Capabilities:   p.clientCapabilities,
			ClientRevision: p.upstreamRevision,
			LogLevel:       p.logLevel,
			Connected:      p.onConnected,
			Credentials:    p.credentials,
			Took:           p.took,
		}
		if p.opts.Share != nil && s.Share {
			p.ups[s.Name] = p.opts.Share(SharedEntry{Name: s.Name, Fingerprint: s.Fingerprint, MaxInstances: s.MaxInstances}, p.spec(s), hooks)
		} else {
			p.ups[s.Name] = upstream.New(s.Name, p.spec(s), p.opts.Opener, p.log, hooks)
		}
		changed = append(changed, s.Name)
	}
	p.mu.Unlock()
	for _, u := range toClose {
		go u.Close()
	}
	return changed
}

func (p *Proxy) spec(s *config.Server) upstream.Spec {
	st := p.opts.Settings
	timeout := st.RequestTimeout
	if s.Timeout > 0 {
		timeout = s.Timeout
	}
	sess := sdk.SessionSpec{
		Server:        s.Name,
		Transport:     s.Type,
		Command:       s.Command,
		Args:          s.Args,
		Cwd:           s.Cwd,
		URL:           s.URL,
		Headers:       remoteHeaders(s),
		TimeoutMillis: timeout.Milliseconds(),
	}
	sess.Options = s.Options
	if s.AllowHTTP {
		opts := s.Options
		if len(opts) == 0 {
			opts = []byte("{}")
		}
		sess.Options, _ = sjson.SetBytes(opts, "allow_http", true)
	}
	var fallback string
	if s.Probe {
		fallback = config.TypeSSE
	}
	if s.Type == config.TypeStdio {
		sess.Env = upstreamEnv(p.opts.Environ(), st.InheritEnv || s.InheritEnv, s.Env)
		if sess.Cwd == "" {
			// A home server runs in the project folder only once that
			// folder is trusted (strict mode): there, `python -m x`
			// would import the repository's x.py and npx would follow its
			// .npmrc. Until then it runs beside its config file.
			sess.Cwd = p.opts.Cwd
			if s.Source == config.SourceHome && !p.gateResult.projectTrusted {
				sess.Cwd = filepath.Dir(s.File)
			}
		}
	}
	return upstream.Spec{
		Transport:      s.Type,
		Session:        sess,
		RequestTimeout: timeout,
		Pooled:         st.Pooled(),
		IdleTTL:        st.IdleTTL,
		ToolCacheTTL:   st.ToolCacheTTL,
		CloseGrace:     closeGrace,
		Fallback:       fallback,
		Memo:           p.transportMemo(),
		Revisions:      p.revisionMemo(),
		RevisionKey:    entryKey(s),
		Redact:         s.Redact,
		ClientInfo:     p.clientInfo(),
	}
}

// clientInfo is what the upstreams are told of the proxy.
func (p *Proxy) clientInfo() mcp.Implementation {
	info := upstream.DefaultClientInfo
	if p.opts.Version != "" {
		info.Version = p.opts.Version
	}
	return info
}

// revisionMemo is transportMemo for what each server speaks.
func (p *Proxy) revisionMemo() upstream.RevisionMemo {
	if p.opts.Memo == nil {
		return nil
	}
	return p.opts.Memo
}

// transportMemo is the memo as the upstreams take it: a nil interface,
// not a nil pointer in one, when there is none.
func (p *Proxy) transportMemo() upstream.TransportMemo {
	if p.opts.Memo == nil {
		return nil
	}
	return p.opts.Memo
}

// remoteHeaders are the headers sent to a remote server: the configured
// ones, and the api_key as a bearer token unless Authorization is set.
func remoteHeaders(s *config.Server) map[string]string {
	if s.APIKey == "" {
		return s.Headers
	}
	h := make(map[string]string, len(s.Headers)+1)
	for k, v := range s.Headers {
		if strings.EqualFold(k, "Authorization") {
			return s.Headers
		}
		h[k] = v
	}
	h["Authorization"] = "Bearer " + s.APIKey
	return h
}

// Reload re-reads the config files and applies the difference.
func (p *Proxy) Reload(ctx context.Context) {
	p.log.Info("configuration changed; reloading")
	changed := p.apply(p.loadConfig())
	p.warm(changed)
	names, _ := p.mirrorable()
	p.rebuild() // drops removed servers at once
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var relist []string
	for _, n := range changed {
		if want[n] {
			relist = append(relist, n)
		}
	}
	p.listAll(ctx, p.needed(relist))
}
