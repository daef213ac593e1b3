package proxy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/auth"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/config"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
)

// ErrNoAuth is returned by the auth operations when the proxy runs
// without logins.
var ErrNoAuth = errors.New("logins are not available in this proxy")

// AuthServer describes a configured remote server to the auth manager.
func (p *Proxy) AuthServer(name string) (auth.Server, error) {
	p.mu.RLock()
	cfg, blocked := p.cfg, p.blocked[name]
	p.mu.RUnlock()
	s := cfg.Server(name)
	if s == nil {
		return auth.Server{}, fmt.Errorf("%w: %q", ErrUnknownServer, name)
	}
	if blocked != "" {
		// A blocked entry's login options are the project's: a login
		// would run its commands and read its files.
		return auth.Server{}, fmt.Errorf("server %q is %s", name, blocked)
	}
	if s.URL == "" {
		return auth.Server{}, fmt.Errorf("server %q is not a remote server: it has no url to log in to", name)
	}
	settings, err := auth.ParseSettings(s.OAuth)
	if err != nil {
		return auth.Server{}, fmt.Errorf("server %q: %w", name, err)
	}
	return auth.Server{Name: name, URL: s.URL, Settings: settings, Key: entryKey(s)}, nil
}

// credentials is the upstreams' Credentials hook: the token of the
// server's login, renewed first when the server refused the last one
// (refused): as the other kind of token when the refusal asks for that
// kind (auth.Manager.Refused), else as it was.
func (p *Proxy) credentials(ctx context.Context, server string, refused *upstream.Refusal) (upstream.Credentials, error) {
	m := p.opts.Auth
	if m == nil {
		return upstream.Credentials{}, nil
	}
	srv, err := p.AuthServer(server)
	if err != nil {
		return upstream.Credentials{}, nil //nolint:nilerr // not a remote server: nothing to send
	}
	if refused != nil {
		_, token, _ := strings.Cut(refused.Sent.Authorization, " ")
		renewed, err := m.Refused(ctx, srv, refused.Challenge, token, refused.Sent.DPoPKey != "")
		if err != nil {
			return upstream.Credentials{}, err
		}
		if !renewed {
			if err := m.Refresh(ctx, srv); err != nil {
				return upstream.Credentials{}, err
			}
		}
	}
	c, err := m.AccessCredentials(ctx, srv)
	if err != nil || c.Token == "" {
		return upstream.Credentials{Withheld: c.Withheld}, err
	}
	if c.DPoPKey != "" {
		// A sender-constrained token: presented with the DPoP scheme,
		// and proved on every request (RFC 9449 §7.1).
		return upstream.Credentials{Authorization: "DPoP " + c.Token, DPoPKey: c.DPoPKey}, nil
	}
	return upstream.Credentials{Authorization: "Bearer " + c.Token}, nil
}

// took is the upstreams' Took hook: the server opened a session with the
// login's token, so a later refusal of it is not about its kind.
func (p *Proxy) took(ctx context.Context, server string, sent upstream.Credentials) {
	m := p.opts.Auth
	if m == nil {
		return
	}
	srv, err := p.AuthServer(server)
	if err != nil {
		return
	}
	_, token, _ := strings.Cut(sent.Authorization, " ")
	if err := m.Took(ctx, srv, token); err != nil {
		p.log.Debug("could not record that the server took its token", "server", server, "error", err)
	}
}

// onCredentialsChanged recycles the server's session so the next request
// carries the new credentials, and lists its tools again: a server that
// needed a login may offer them now.
func (p *Proxy) onCredentialsChanged(server string) {
	u := p.upstream(server)
	if u == nil {
		return
	}
	u.Recycle()
	u.InvalidateTools()
	p.inBackground(func(ctx context.Context) { p.list(ctx, server) })
}

// AuthStart starts a login; see auth.Manager.Login. The challenge of the
// server's last 401, if any, guides discovery.
func (p *Proxy) AuthStart(ctx context.Context, server, flow string) (auth.Started, error) {
	if p.opts.Auth == nil {
		return auth.Started{}, ErrNoAuth
	}
	srv, err := p.AuthServer(server)
	if err != nil {
		return auth.Started{}, err
	}
	if flow != "" && !config.PlainFlow(flow) && p.fromUntrustedProject(server) {
		// The model names the flow: an untrusted project's entry gets
		// only the logins that run nothing here.
		return auth.Started{}, fmt.Errorf("server %q is an untrusted project's: only the pkce and device_code logins run for it until the project is trusted (ICA_MCP_STRICT_TRUST=1), not %q", server, flow)
	}
	var challenge string
	if u := p.upstream(server); u != nil {
		challenge = u.Challenge()
		if challenge == "" {
			// Not met yet (a fresh process): ask the server, whose 401
			// names where its metadata is.
			pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			_, _ = u.Request(pctx, "ping", nil)
			cancel()
			challenge = u.Challenge()
		}
	}
	return p.opts.Auth.Login(ctx, srv, flow, challenge)
}

// AuthStatus reports the login of server, or of every remote server when
// server is "".
func (p *Proxy) AuthStatus(ctx context.Context, server string) ([]auth.Status, error) {
	if p.opts.Auth == nil {
		return nil, ErrNoAuth
	}
	names := []string{server}
	if server == "" {
		names = nil
		p.mu.RLock()
		for _, s := range p.cfg.Servers {
			if s.URL != "" && s.Error == "" && p.blocked[s.Name] == "" {
				names = append(names, s.Name)
			}
		}
		p.mu.RUnlock()
	}
	out := []auth.Status{}
	for _, n := range names {
		srv, err := p.AuthServer(n)
		if err != nil {
			return nil, err
		}
		out = append(out, p.opts.Auth.Status(ctx, srv))
	}
	return out, nil
}

// AuthRefresh renews server's token now.
func (p *Proxy) AuthRefresh(ctx context.Context, server string) (auth.Status, error) {
	if p.opts.Auth == nil {
		return auth.Status{}, ErrNoAuth
	}
	srv, err := p.AuthServer(server)
	if err != nil {
		return auth.Status{}, err
	}
	if err := p.opts.Auth.Refresh(ctx, srv); err != nil {
		return auth.Status{}, err
	}
	return p.opts.Auth.Status(ctx, srv), nil
}

// AuthLogout deletes server's token, revoking it where possible.
func (p *Proxy) AuthLogout(ctx context.Context, server string) (bool, error) {
	if p.opts.Auth == nil {
		return false, ErrNoAuth
	}
	srv, err := p.AuthServer(server)
	if err != nil {
		return false, err
	}
	return p.opts.Auth.Logout(ctx, srv)
}

// fromUntrustedProject says whether server is an entry of a project that
// strict mode does not trust.
func (p *Proxy) fromUntrustedProject(server string) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	s := p.cfg.Server(server)
	return s != nil && s.Source == config.SourceProject && !p.gateResult.projectTrusted
}
