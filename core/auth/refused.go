package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/oauthmeta"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/tokenstore"
)

// StateRefused is a server's login whose token the server refused for its
// kind (a DPoP-bound token where it takes only Bearer, or the reverse),
// with no renewal of the other kind possible without the user: the next
// login asks for the kind the server takes.
const StateRefused = "refused"

// ErrWrongKind says the server refused the token for its kind and the
// proxy could not get one of the other kind without the user; the error
// says what to do.
var ErrWrongKind = errors.New("the server refused the kind of token it was sent")

// errNoOtherKind says the authorization server answered a renewal as
// another kind with the kind held.
var errNoOtherKind = errors.New("no token of the other kind")

// Refused answers the server refusing the token it was sent (sentToken;
// sentDPoP: whether it was presented as DPoP-bound), with the
// WWW-Authenticate value of its 401.
//
// When the challenge offers only the other kind of token, and the server
// never took a token of this login, that kind is remembered for the entry
// (Kinds), once, and the token renewed as that kind where that needs no
// user: by a refresh, or by the flow run again where it needs no user.
//
// It reports whether the caller is to present the credentials held now:
// renewed here, or by another process meanwhile. When it reports false,
// the refusal was not about the kind (an expired or revoked token), and
// the caller renews the token as usual. An error wrapping ErrWrongKind
// says a login is needed, and that it will ask for the right kind.
func (m *Manager) Refused(ctx context.Context, srv Server, challenge, sentToken string, sentDPoP bool) (bool, error) {
	cur, ok, err := m.opts.Store.Get(ctx, srv.Name)
	switch {
	case err != nil:
		return false, err
	case !ok:
		return false, nil
	case cur.AccessToken != sentToken:
		return true, nil // renewed meanwhile: present the new one
	case cur.Taken:
		return false, nil // the server took this kind: the token expired
	}
	ch := oauthmeta.ParseChallenge(challenge)
	sent, want := KindBearer, KindDPoP
	if sentDPoP {
		sent, want = KindDPoP, KindBearer
	}
	if (want == KindBearer && (!ch.Bearer || ch.DPoP)) || (want == KindDPoP && (!ch.DPoP || ch.Bearer)) {
		return false, nil // not about the kind
	}
	s := srv.Settings
	if s.DPoP != nil {
		// The entry asked for this kind: the proxy does not overrule it.
		return false, fmt.Errorf(`%w: server %q refused the %s token and takes only %s tokens, but its entry sets "dpop": %t; change or remove that setting`, ErrWrongKind, srv.Name, sent, want, *s.DPoP)
	}
	reason := fmt.Sprintf("the server refused a %s token, its challenge offering only %s, on %s (remembered in mcp-upstreams.json)",
		sent, want, time.Now().UTC().Format(time.DateOnly))
	if m.opts.Kinds != nil && srv.Key != "" {
		switch was, why := m.opts.Kinds.TokenKind(srv.Key); was {
		case "":
			if err := m.opts.Kinds.SetTokenKind(srv.Key, want, reason); err != nil {
				m.log.Warn("could not remember the kind of token the server takes", "server", srv.Name, "error", err)
			}
		case want:
			reason = why // known already; a token from before was sent
		default:
			// It refused the other kind before: switching back and forth
			// would log in forever.
			return false, fmt.Errorf("%w: server %q refused the %s token and offers only %s tokens, but it refused %s before (%s); not switching again: check the server's setup, or set \"dpop\" in its entry's \"oauth\"", ErrWrongKind, srv.Name, sent, want, was, why)
		}
	}
	m.log.Info("the server takes the other kind of token; renewing it as that kind", "server", srv.Name, "kind", want)
	rk, err := newRekey(want, reason)
	if err != nil {
		return false, err
	}
	err = m.refresh(ctx, srv, func(cur tokenstore.Token) bool {
		return cur.AccessToken == sentToken // else renewed meanwhile, by another process
	}, rk)
	if err == nil {
		return true, nil
	}
	if !definite(err) {
		// The authorization server could not be asked (unreachable, or
		// failing): the next refusal tries again.
		return false, fmt.Errorf("server %q refused the %s token and takes only %s tokens; getting one failed, and is tried again on the next request: %w", srv.Name, sent, want, err)
	}
	m.log.Info("no token of the other kind without a login", "server", srv.Name, "error", err)
	if errors.Is(err, errNoOtherKind) {
		return false, fmt.Errorf("%w: %w", ErrWrongKind, err) // the token is marked already
	}
	refused := fmt.Sprintf("the server refused the %s token and takes only %s tokens; log in again: the next login asks for a %s token", sent, want, want)
	if uerr := m.opts.Store.Update(ctx, srv.Name, func(cur tokenstore.Token, ok bool) (tokenstore.Token, bool, error) {
		if !ok || cur.AccessToken != sentToken || cur.Refused == refused {
			return cur, false, nil // another login meanwhile: not this token
		}
		cur.Refused = refused
		return cur, true, nil
	}); uerr != nil {
		m.log.Warn("could not record the refusal", "server", srv.Name, "error", uerr)
	}
	return false, fmt.Errorf("%w: %s", ErrWrongKind, refused)
}

// definite reports whether a renewal's failure settles that no token of
// the other kind can be had without the user: the token cannot be
// refreshed, the authorization server answered with the kind held, or it
// refused the grant (an OAuth error). A failure to reach it settles
// nothing.
func definite(err error) bool {
	if errors.Is(err, errNoOtherKind) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"cannot be refreshed", "invalid_grant", "invalid_dpop_proof", "invalid_client", "unauthorized_client", "unsupported_grant_type", "invalid_request", "invalid_scope", "invalid_target"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// Took records that the server opened a session with token (the value
// presented): a later refusal of a token of this login is of an expired
// or revoked one, not of its kind.
func (m *Manager) Took(ctx context.Context, srv Server, token string) error {
	if t, ok, err := m.opts.Store.Get(ctx, srv.Name); err != nil || !ok || t.Taken || t.AccessToken != token {
		return err
	}
	return m.opts.Store.Update(ctx, srv.Name, func(cur tokenstore.Token, ok bool) (tokenstore.Token, bool, error) {
		if !ok || cur.Taken || cur.AccessToken != token {
			return cur, false, nil
		}
		cur.Taken = true
		return cur, true, nil
	})
}
