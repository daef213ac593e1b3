package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/oauthmeta"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/tokenstore"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/dpop"
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

// Refused answers the server refusing the token it was sent (sentDPoP:
// whether it was DPoP-bound), with the WWW-Authenticate value of its 401.
// When the challenge offers only the other kind of token, that kind is
// remembered for the entry (Kinds), once, and the token renewed as that
// kind where that needs no user: by a refresh, or by running the flow
// again where it needs no user. It reports whether the refusal was about
// the kind; when it was not, the caller renews the token as usual. An
// error wrapping ErrWrongKind says a login is needed, and that it will
// ask for the right kind.
func (m *Manager) Refused(ctx context.Context, srv Server, challenge string, sentDPoP bool) (bool, error) {
	ch := oauthmeta.ParseChallenge(challenge)
	sent, want := KindBearer, KindDPoP
	if sentDPoP {
		sent, want = KindDPoP, KindBearer
	}
	if (want == KindBearer && (!ch.Bearer || ch.DPoP)) || (want == KindDPoP && (!ch.DPoP || ch.Bearer)) {
		return false, nil // not about the kind: an expired or revoked token
	}
	s := srv.Settings
	if s.DPoP != nil {
		// The entry asked for this kind: the proxy does not overrule it.
		return true, fmt.Errorf(`%w: server %q refused the %s token and takes only %s tokens, but its entry sets "dpop": %t; change or remove that setting`, ErrWrongKind, srv.Name, sent, want, *s.DPoP)
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
			return true, fmt.Errorf("%w: server %q refused the %s token and offers only %s tokens, but it refused %s before (%s); not switching again: check the server's setup, or set \"dpop\" in its entry's \"oauth\"", ErrWrongKind, srv.Name, sent, want, was, why)
		}
	}
	m.log.Info("the server takes the other kind of token; renewing it as that kind", "server", srv.Name, "kind", want)
	rk := &rekey{reason: reason}
	if want == KindDPoP {
		key, err := dpop.NewKey()
		if err != nil {
			return true, err
		}
		rk.key = key
	}
	err := m.refresh(ctx, srv, func(cur tokenstore.Token) bool {
		return heldKind(cur.DPoPKey, cur.TokenType) != want // else renewed meanwhile, by another process
	}, rk)
	if err == nil {
		return true, nil
	}
	m.log.Info("no token of the other kind without a login", "server", srv.Name, "error", err)
	refused := fmt.Sprintf("the server refused the %s token and takes only %s tokens; log in again: the next login asks for a %s token", sent, want, want)
	if uerr := m.opts.Store.Update(ctx, srv.Name, func(cur tokenstore.Token, ok bool) (tokenstore.Token, bool, error) {
		if !ok || cur.Refused == refused {
			return cur, false, nil
		}
		cur.Refused = refused
		return cur, true, nil
	}); uerr != nil {
		m.log.Warn("could not record the refusal", "server", srv.Name, "error", uerr)
	}
	return true, fmt.Errorf("%w: %s", ErrWrongKind, refused)
}
