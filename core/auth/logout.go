package auth

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/oauthmeta"
)

// Logout: the server's tokens are revoked where it offers revocation,
// then forgotten.

// Logout deletes the server's token, revoking it first where the server
// offers revocation (RFC 7009); it reports whether there was one.
func (m *Manager) Logout(ctx context.Context, srv Server) (bool, error) {
	m.mu.Lock()
	if p := m.pending[srv.Name]; p != nil {
		p.cancel()
		delete(m.pending, srv.Name)
	}
	m.mu.Unlock()
	t, ok, err := m.opts.Store.Get(ctx, srv.Name)
	if err != nil {
		return false, err
	}
	if ok && t.RevocationURL != "" {
		for _, tok := range []struct{ value, hint string }{{t.RefreshToken, "refresh_token"}, {t.AccessToken, "access_token"}} {
			if tok.value == "" {
				continue
			}
			secret := ""
			if srv.Settings.ClientID == t.ClientID {
				secret = srv.Settings.ClientSecret
			}
			if err := m.revoke(ctx, t.RevocationURL, t.ClientID, secret, tok.value, tok.hint); err != nil {
				m.log.Warn("revocation failed; the token is deleted anyway", "server", srv.Name, "error", err)
			}
		}
	}
	had, err := m.opts.Store.Delete(ctx, srv.Name)
	if err == nil && had {
		m.notify(srv.Name)
	}
	return had, err
}

func (m *Manager) revoke(ctx context.Context, endpoint, clientID, secret, token, hint string) error {
	if _, err := oauthmeta.CheckEndpoint("revocation endpoint", endpoint); err != nil {
		return err
	}
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	if secret == "" {
		form.Set("client_id", clientID) // a public client
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	resp, err := m.http.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("revocation at %s: %s", endpoint, resp.Status)
	}
	return nil
}
