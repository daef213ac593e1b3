package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/oauthmeta"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/tokenstore"
)

// maxStepUps bounds the logins started for one demand for scope: a server
// that keeps refusing whatever the user grants is not asked forever.
// With the first login, three authorization requests at most.
const maxStepUps = 2

// StateInsufficientScope is a server's login whose token the server
// refused for want of scope, with no login under way for more.
const StateInsufficientScope = "insufficient_scope"

// ErrNoStepUp says a refusal for want of scope will not be answered with
// another login; the error says why.
var ErrNoStepUp = errors.New("no new login for more scope")

// StepUp answers a server's refusal of a request for want of scope (a 403
// whose challenge says error="insufficient_scope"): it records what the
// next login asks for, the scopes asked for before together with those
// the server names (the union, as 2026-07-28 asks), and starts that login
// with the flow of the last one. what names the refused request, for the
// reason shown. It starts nothing, and says why (ErrNoStepUp), when the
// server refuses scopes the token was granted, or when the logins for
// this demand are spent.
func (m *Manager) StepUp(ctx context.Context, srv Server, challenge, what string) (Started, error) {
	ch := oauthmeta.ParseChallenge(challenge)
	if !strings.EqualFold(ch.Error, "insufficient_scope") {
		return Started{}, fmt.Errorf("server %q: not a refusal for want of scope: %q", srv.Name, challenge)
	}
	demanded := strings.Fields(ch.Scope)
	var flow, refused string
	err := m.opts.Store.Update(ctx, srv.Name, func(t tokenstore.Token, ok bool) (tokenstore.Token, bool, error) {
		if !ok {
			return t, false, fmt.Errorf("server %q: not logged in", srv.Name)
		}
		flow, refused = t.Flow, ""
		want := union(priorScopes(t), demanded)
		next := tokenstore.StepUp{Scopes: want, Logins: 1, At: time.Now().UTC().Truncate(time.Second)}
		switch su := t.StepUp; {
		case len(demanded) > 0 && len(t.Scopes) > 0 && subset(demanded, t.Scopes):
			refused = fmt.Sprintf("server %q refused %s for want of scope %q, which its token was granted; a new login would ask for the same (the account may lack the permission)", srv.Name, what, ch.Scope)
		case su != nil && subset(want, su.Scopes) && su.Logins >= maxStepUps:
			refused = fmt.Sprintf("server %q still refuses %s for want of scope %q after %d logins asking for %q; not asking again (the account may lack the permission)", srv.Name, what, ch.Scope, su.Logins, strings.Join(su.Scopes, " "))
		case su != nil && subset(want, su.Scopes):
			next.Scopes, next.Logins = su.Scopes, su.Logins+1
		}
		next.Reason = fmt.Sprintf("the server refused %s for want of scope %q (HTTP 403 insufficient_scope); the next login asks for %q", what, ch.Scope, strings.Join(next.Scopes, " "))
		if refused != "" {
			if t.StepUp != nil {
				next = *t.StepUp
			}
			next.Refused = refused
		}
		t.StepUp = &next
		return t, true, nil
	})
	if err != nil {
		return Started{}, err
	}
	if refused != "" {
		return Started{}, fmt.Errorf("%w: %s", ErrNoStepUp, refused)
	}
	m.log.Info("the server asks for more scope; logging in again", "server", srv.Name, "scope", ch.Scope)
	return m.Login(ctx, srv, flow, challenge)
}

// priorScopes are what the last login asked for (the scopes it was
// granted, for a token stored before requests were kept).
func priorScopes(t tokenstore.Token) []string {
	if len(t.Requested) > 0 {
		return t.Requested
	}
	return t.Scopes
}

// union is a's scopes followed by those of b it lacks.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// subset reports whether every scope of a is in b.
func subset(a, b []string) bool {
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	return true
}
