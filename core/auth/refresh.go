package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/config"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/oauthmeta"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/tokenstore"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/dpop"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// Renewal: a token is refreshed shortly before it expires, or when the
// server refused it, and handed to a session as its credentials.

// Refresh renews the server's token now, whatever its expiry: as the kind
// the server was found to take, where that is not the kind held.
func (m *Manager) Refresh(ctx context.Context, srv Server) error {
	var rk *rekey
	if t, ok, err := m.opts.Store.Get(ctx, srv.Name); err == nil && ok && m.opts.Kinds != nil && srv.Key != "" && srv.Settings.DPoP == nil {
		if kind, why := m.opts.Kinds.TokenKind(srv.Key); kind != "" && (kind != heldKind(t.DPoPKey, t.TokenType) || t.Refused != "") {
			if rk, err = newRekey(kind, why); err != nil {
				return err
			}
		}
	}
	if err := m.refresh(ctx, srv, func(tokenstore.Token) bool { return true }, rk); err != nil {
		return err
	}
	m.notify(srv.Name)
	return nil
}

// rekey asks a refresh for another kind of token than the one held, for
// reason: a DPoP-bound one (bound to the key held, else to key), or a
// Bearer one.
type rekey struct{ kind, key, reason string }

func newRekey(kind, reason string) (*rekey, error) {
	rk := &rekey{kind: kind, reason: reason}
	if kind == KindDPoP {
		key, err := dpop.NewKey()
		if err != nil {
			return nil, err
		}
		rk.key = key
	}
	return rk, nil
}

// refresh renews the token under the store's lock when need says so,
// reading it again first: another process may have renewed it already.
// With rk, the new token is of the kind rk asks for.
func (m *Manager) refresh(ctx context.Context, srv Server, need func(tokenstore.Token) bool, rk *rekey) error {
	// The client's secret, read before the token's lock is taken: the
	// store's lock is not reentrant.
	clients := map[string]sdk.Client{}
	if srv.Settings.ClientID != "" {
		c, err := srv.Settings.configuredClient()
		if err != nil {
			return fmt.Errorf("server %q: %w", srv.Name, err)
		}
		c.RedirectURI = ""
		clients[srv.Settings.ClientID] = c
	}
	if t, ok, err := m.opts.Store.Get(ctx, srv.Name); err == nil && ok {
		if reg, ok, _ := m.opts.Store.Registration(ctx, t.Issuer); ok {
			if _, set := clients[reg.ClientID]; !set {
				clients[reg.ClientID] = sdk.Client{ClientID: reg.ClientID, ClientSecret: reg.ClientSecret, AuthMethod: reg.AuthMethod}
			}
		}
	}
	var issued string // with rk: the kind issued, when not the kind asked for
	err := m.opts.Store.Update(ctx, srv.Name, func(cur tokenstore.Token, ok bool) (tokenstore.Token, bool, error) {
		if !ok {
			return cur, false, fmt.Errorf("server %q: not logged in", srv.Name)
		}
		if !need(cur) {
			return cur, false, nil
		}
		if cur.RefreshToken == "" && !cur.Remint && cur.Flow != "client_credentials" {
			return cur, false, fmt.Errorf("server %q: the token cannot be refreshed (no refresh token); log in again", srv.Name)
		}
		plugin, file, err := m.opts.Plugins.Auth(ctx, cur.Flow)
		if err != nil {
			return cur, false, err
		}
		s := srv.Settings
		key := cur.DPoPKey
		switch {
		case rk == nil:
		case rk.kind == KindBearer:
			key = ""
		case key == "":
			key = rk.key
		}
		g := sdk.Grant{
			Flow: cur.Flow, Server: srv.Name,
			Endpoints: sdk.Endpoints{Issuer: cur.Issuer, TokenURL: cur.TokenURL},
			Client:    clientFor(clients, cur.ClientID),
			Scopes:    cur.Scopes, Resource: cur.Resource, DPoPKey: key,
			ExtraTokenParams: s.ExtraTokenParams, Options: s.Options, Timeout: seconds(s.TokenTimeout),
		}
		t, err := plugin.Refresh(ctx, g, cur.RefreshToken)
		if err != nil {
			return cur, false, fmt.Errorf("server %q: refresh failed (%s: %v); log in again", srv.Name, file, err)
		}
		next := cur
		next.AccessToken, next.TokenType, next.Expiry = t.AccessToken, t.TokenType, t.Expiry
		if t.RefreshToken != "" {
			next.RefreshToken = t.RefreshToken
		}
		if len(t.Scopes) > 0 {
			next.Scopes = t.Scopes
		}
		if rk != nil {
			next.Taken = false
			next.DPoPKey, next.KindReason, next.Refused = key, rk.reason, ""
			if got := heldKind(key, t.TokenType); got != rk.kind {
				// Kept all the same: the refresh token may have been
				// rotated. The server will not take it.
				issued = got
				next.KindReason = fmt.Sprintf("a %s token was asked for (%s), but the authorization server issued a %s token", rk.kind, rk.reason, got)
				next.Refused = fmt.Sprintf("the server takes only %s tokens, and the authorization server issued a %s token when asked for one", rk.kind, got)
			}
		}
		return next, true, nil
	})
	if err == nil && issued != "" {
		return fmt.Errorf("%w: server %q: asked for a %s token, the authorization server issued a %s one", errNoOtherKind, srv.Name, rk.kind, issued)
	}
	return err
}

// clientFor is the known client with id, or a public client of that id.
func clientFor(clients map[string]sdk.Client, id string) sdk.Client {
	if c, ok := clients[id]; ok {
		return c
	}
	return sdk.Client{ClientID: id}
}

// Credentials are what a session with the server presents: the access
// token and, when it is sender-constrained (DPoP), the key it is bound to.
type Credentials struct {
	Token   string
	DPoPKey string
	// Withheld, when there is no Token, says why a login's token is not
	// sent (the server refused it for its kind).
	Withheld string
}

// AccessToken returns the server's access token, refreshed first when it
// expires within a minute; "" without error when the server has no login.
func (m *Manager) AccessToken(ctx context.Context, srv Server) (string, error) {
	c, err := m.AccessCredentials(ctx, srv)
	return c.Token, err
}

// AccessCredentials is AccessToken with the key of a DPoP-bound token.
func (m *Manager) AccessCredentials(ctx context.Context, srv Server) (Credentials, error) {
	t, ok, err := m.opts.Store.Get(ctx, srv.Name)
	if err != nil || !ok {
		return Credentials{}, err
	}
	if t.Resource == "" {
		// A token that does not say what it was minted for (written by
		// hand, or by an older proxy) could be anyone's: a server that
		// took the entry's name must not get it. Its 401 asks for a
		// new login, which records the resource.
		m.log.Warn("the stored token names no resource; not sending it (log in again)", "server", srv.Name)
		return Credentials{}, nil
	}
	if !oauthmeta.Covers(t.Resource, srv.URL) {
		// Minted for another URL (the entry's url changed): never send it
		// elsewhere; the server's 401 will ask for a new login.
		m.log.Warn("the stored token is for another URL; not sending it", "server", srv.Name, "token_resource", config.RedactURL(t.Resource), "url", config.RedactURL(srv.URL))
		return Credentials{}, nil
	}
	if t.Refused != "" {
		// The server refused it for its kind: not sent again. Its 401
		// names where a new login goes.
		return Credentials{Withheld: t.Refused}, nil
	}
	if !t.Expiry.IsZero() && time.Until(t.Expiry) < refreshAhead {
		if err := m.refresh(ctx, srv, func(cur tokenstore.Token) bool {
			return !cur.Expiry.IsZero() && time.Until(cur.Expiry) < refreshAhead
		}, nil); err != nil {
			return Credentials{}, err
		}
		if t, _, err = m.opts.Store.Get(ctx, srv.Name); err != nil {
			return Credentials{}, err
		}
	}
	if heldKind(t.DPoPKey, t.TokenType) == KindBearer {
		return Credentials{Token: t.AccessToken}, nil
	}
	return Credentials{Token: t.AccessToken, DPoPKey: t.DPoPKey}, nil
}
