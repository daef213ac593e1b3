package auth

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/oauthmeta"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/tokenstore"
)

// The decision of the kind of token, against each of its inputs: the
// entry's setting, a remembered refusal, the resource's metadata, its
// challenge, and what the authorization server takes.
func TestDecideKind(t *testing.T) {
	yes, no := true, false
	es256 := []string{"ES256"}
	prm := func(algs []string, required bool) *oauthmeta.ProtectedResource {
		return &oauthmeta.ProtectedResource{DPoPSigningAlgValuesSupported: algs, DPoPBoundAccessTokensRequired: required}
	}
	bearerCh := oauthmeta.ParseChallenge(`Bearer resource_metadata="https://x/m"`)
	dpopCh := oauthmeta.ParseChallenge(`DPoP algs="ES256", resource_metadata="https://x/m"`)
	bothCh := oauthmeta.ParseChallenge(`Bearer realm="x", DPoP algs="ES256"`)
	rsaOnlyCh := oauthmeta.ParseChallenge(`DPoP algs="RS256"`)
	cases := []struct {
		name   string
		in     kindInputs
		want   string // a kind, or "error"
		reason string // a part of the reason (or of the error)
	}{
		// The common case the decision exists for: the authorization
		// server offers DPoP, the resource says nothing of it.
		{"AS offers, resource silent", kindInputs{challenge: bearerCh, resource: prm(nil, false), asAlgs: es256, asKnown: true}, KindBearer, "does not ask for DPoP"},
		{"nothing known", kindInputs{}, KindBearer, "does not ask for DPoP"},
		{"metadata lists ES256", kindInputs{resource: prm(es256, false), asAlgs: es256, asKnown: true}, KindDPoP, "dpop_signing_alg_values_supported"},
		{"metadata requires", kindInputs{resource: prm(nil, true), asAlgs: es256, asKnown: true}, KindDPoP, "dpop_bound_access_tokens_required"},
		{"metadata requires other algs", kindInputs{resource: prm([]string{"RS256"}, true)}, "error", "RS256"},
		{"metadata lists other algs", kindInputs{resource: prm([]string{"PS256"}, false), challenge: dpopCh}, KindBearer, `"PS256" only`},
		{"challenge offers DPoP", kindInputs{challenge: dpopCh, asAlgs: es256, asKnown: true}, KindDPoP, "challenge offers the DPoP scheme"},
		{"challenge offers both", kindInputs{challenge: bothCh}, KindDPoP, "challenge offers the DPoP scheme"},
		{"challenge takes only other algs", kindInputs{challenge: rsaOnlyCh}, "error", "RS256"},
		{"challenge offers other algs and Bearer", kindInputs{challenge: oauthmeta.ParseChallenge(`Bearer, DPoP algs="RS256"`)}, KindBearer, `"RS256" only`},
		{"entry off beats everything", kindInputs{setting: &no, resource: prm(es256, true), challenge: dpopCh, remembered: KindDPoP}, KindBearer, `"dpop": false`},
		{"entry on beats a remembered Bearer", kindInputs{setting: &yes, remembered: KindBearer, rememberedWhy: "refused"}, KindDPoP, `"dpop": true`},
		{"entry on, AS without ES256", kindInputs{setting: &yes, asAlgs: []string{"RS256"}, asKnown: true}, "error", "signs with ES256 only"},
		{"remembered Bearer beats the metadata", kindInputs{remembered: KindBearer, rememberedWhy: "the server refused a DPoP token", resource: prm(es256, false), challenge: dpopCh}, KindBearer, "refused a DPoP token"},
		{"remembered DPoP beats silence", kindInputs{remembered: KindDPoP, rememberedWhy: "the server refused a Bearer token", challenge: bearerCh}, KindDPoP, "refused a Bearer token"},
		{"AS lists no algs: asked anyway", kindInputs{resource: prm(es256, false), asKnown: true}, KindDPoP, "dpop_signing_alg_values_supported"},
		{"AS without ES256, resource would take either", kindInputs{resource: prm(es256, false), asAlgs: []string{"RS256"}, asKnown: true}, KindBearer, `authorization server takes DPoP proofs signed with "RS256"`},
		{"AS without ES256, resource requires", kindInputs{resource: prm(nil, true), asAlgs: []string{"RS256"}, asKnown: true}, "error", "a DPoP-bound token is needed"},
		{"AS without ES256, challenge offers only DPoP", kindInputs{challenge: dpopCh, asAlgs: []string{"EdDSA"}, asKnown: true}, "error", "EdDSA"},
	}
	for _, c := range cases {
		kind, reason, _, err := decideKind(c.in)
		got := kind
		if err != nil {
			got, reason = "error", err.Error()
		}
		if got != c.want || !strings.Contains(reason, c.reason) {
			t.Errorf("%s: %s (%q), want %s (%q)", c.name, got, reason, c.want, c.reason)
		}
	}
}

// kinds is an in-memory Kinds.
type kinds struct {
	mu sync.Mutex
	m  map[string][2]string
}

func (k *kinds) TokenKind(key string) (string, string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v := k.m[key]
	return v[0], v[1]
}

func (k *kinds) SetTokenKind(key, kind, reason string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[string][2]string{}
	}
	k.m[key] = [2]string{kind, reason}
	return nil
}

// A login asks for what the resource takes: a Bearer token where only the
// authorization server offers DPoP, and auth_status says why.
func TestBearerWhereOnlyTheAuthorizationServerOffersDPoP(t *testing.T) {
	a := newAuthServer(t)
	a.dpop = true
	m := manager(t)
	srv := Server{Name: "docs", URL: a.srv.URL + "/mcp"}
	if _, err := m.Login(ctx(t), srv, "device_code", ""); err != nil {
		t.Fatal(err)
	}
	st := waitState(t, m, srv, StateOK)
	c, err := m.AccessCredentials(ctx(t), srv)
	if err != nil || c.Token == "" || c.DPoPKey != "" || a.proofs != 0 {
		t.Fatalf("a DPoP-bound token where the resource says nothing of DPoP: key %t, %d proofs, %v", c.DPoPKey != "", a.proofs, err)
	}
	if st.TokenType != KindBearer || !strings.Contains(st.TokenTypeReason, "does not ask for DPoP") {
		t.Fatalf("status: %s (%s)", st.TokenType, st.TokenTypeReason)
	}
}

// stored is the server's stored token.
func stored(t *testing.T, m *Manager, server string) tokenstore.Token {
	t.Helper()
	tok, ok, err := m.opts.Store.Get(ctx(t), server)
	if err != nil || !ok {
		t.Fatalf("no stored token for %s: %v", server, err)
	}
	return tok
}

// A DPoP-bound token refused where the server offers only Bearer: the
// kind is remembered for the entry, the token renewed as Bearer without
// the user (a refresh, or the flow again), and the next login asks for
// Bearer. Where no renewal works, a login is asked for, and the refused
// token is not sent again.
func TestRefusedForItsKind(t *testing.T) {
	const bearerOnly = `Bearer error="invalid_token", resource_metadata="x"`
	for _, tc := range []struct {
		name        string
		flow        string
		failRefresh bool
	}{
		{"refresh", "device_code", false},
		{"flow again", "client_credentials", false},
		{"login needed", "device_code", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuthServer(t)
			a.dpop, a.resourceDPoP = true, true // the metadata claims DPoP the server does not take
			mem := &kinds{}
			m := New(Options{Store: manager(t).opts.Store, Plugins: plugins(t), Kinds: mem})
			srv := Server{Name: "docs", URL: a.srv.URL + "/mcp", Key: "docs@f1"}
			if tc.flow == "client_credentials" {
				srv.Settings = Settings{ClientID: "svc", ClientSecret: "x"}
			}
			if _, err := m.Login(ctx(t), srv, tc.flow, ""); err != nil {
				t.Fatal(err)
			}
			waitState(t, m, srv, StateOK)
			c, _ := m.AccessCredentials(ctx(t), srv)
			if c.DPoPKey == "" {
				t.Fatal("no DPoP-bound token where the metadata lists DPoP")
			}
			if renewed, err := m.Refused(ctx(t), srv, `Bearer error="invalid_token"`, c.Token, false); renewed || err != nil {
				t.Fatalf("a Bearer token refused with a Bearer challenge is not about the kind: %t %v", renewed, err)
			}
			if renewed, err := m.Refused(ctx(t), srv, `Bearer error="invalid_token", DPoP algs="ES256"`, c.Token, true); renewed || err != nil {
				t.Fatalf("a DPoP token refused where DPoP is offered is not about the kind: %t %v", renewed, err)
			}
			if renewed, err := m.Refused(ctx(t), srv, bearerOnly, "an older token", true); !renewed || err != nil {
				t.Fatalf("a refusal of a token renewed since: %t %v, want the new one presented", renewed, err)
			}
			a.failRefresh = tc.failRefresh
			renewed, err := m.Refused(ctx(t), srv, bearerOnly, c.Token, true)
			if renewed != !tc.failRefresh {
				t.Fatalf("a DPoP token refused where only Bearer is offered: renewed %t (%v)", renewed, err)
			}
			if got, why := mem.TokenKind("docs@f1"); got != KindBearer || !strings.Contains(why, "refused a DPoP token") {
				t.Fatalf("remembered %q (%q)", got, why)
			}
			c, cerr := m.AccessCredentials(ctx(t), srv)
			st := m.Status(ctx(t), srv)
			if tc.failRefresh {
				if !errors.Is(err, ErrWrongKind) || !strings.Contains(err.Error(), "the next login asks for a Bearer token") {
					t.Fatalf("no renewal: %v", err)
				}
				if c.Token != "" || cerr != nil || !strings.Contains(c.Withheld, "takes only Bearer tokens") {
					t.Fatalf("the refused token is sent again: %q %v (withheld: %q)", c.Token, cerr, c.Withheld)
				}
				if st.State != StateRefused || !strings.Contains(st.Reason, "takes only Bearer tokens") || st.Refreshable {
					t.Fatalf("status %s (%s), refreshable %t", st.State, st.Reason, st.Refreshable)
				}
				// The login asked for: Bearer, as remembered.
				a.failRefresh = false
				if _, err := m.Login(ctx(t), srv, tc.flow, ""); err != nil {
					t.Fatal(err)
				}
				st = waitState(t, m, srv, StateOK)
				c, cerr = m.AccessCredentials(ctx(t), srv)
			} else if err != nil {
				t.Fatal(err)
			}
			if cerr != nil || c.Token == "" || c.DPoPKey != "" {
				t.Fatalf("after the refusal: token %q, key %t, %v", c.Token, c.DPoPKey != "", cerr)
			}
			if st.TokenType != KindBearer || !strings.Contains(st.TokenTypeReason, "mcp-upstreams.json") {
				t.Fatalf("status: %s (%s)", st.TokenType, st.TokenTypeReason)
			}
			// Refused the other way now: not switched back.
			renewed, err = m.Refused(ctx(t), srv, `DPoP algs="ES256"`, c.Token, false)
			if renewed || !errors.Is(err, ErrWrongKind) || !strings.Contains(err.Error(), "not switching again") {
				t.Fatalf("a Bearer token refused after a DPoP one: %t %v", renewed, err)
			}
		})
	}
}

// loggedIn runs a device code login to srv with a manager that remembers
// kinds in mem, and returns the manager and the credentials it presents.
func loggedIn(t *testing.T, srv Server, mem Kinds) (*Manager, Credentials) {
	t.Helper()
	m := New(Options{Store: manager(t).opts.Store, Plugins: plugins(t), Kinds: mem})
	if _, err := m.Login(ctx(t), srv, "device_code", ""); err != nil {
		t.Fatal(err)
	}
	waitState(t, m, srv, StateOK)
	c, err := m.AccessCredentials(ctx(t), srv)
	if err != nil {
		t.Fatal(err)
	}
	return m, c
}

// A refusal of a token whose kind the server took before is of an expired
// or revoked token: not about the kind, whatever the challenge offers.
func TestRefusedAfterTheServerTookTheKind(t *testing.T) {
	a := newAuthServer(t)
	a.dpop, a.resourceDPoP = true, true
	mem := &kinds{}
	srv := Server{Name: "docs", URL: a.srv.URL + "/mcp", Key: "docs@f1"}
	m, c := loggedIn(t, srv, mem)
	if err := m.Took(ctx(t), srv, "another token"); err != nil || stored(t, m, "docs").Taken {
		t.Fatalf("another token taken marks this one: %v", err)
	}
	if err := m.Took(ctx(t), srv, c.Token); err != nil || !stored(t, m, "docs").Taken {
		t.Fatalf("took: %v", err)
	}
	if err := m.Refresh(ctx(t), srv); err != nil || !stored(t, m, "docs").Taken {
		t.Fatalf("a refresh of the same kind forgets the server took it: %v", err)
	}
	c, _ = m.AccessCredentials(ctx(t), srv)
	// A server that takes either kind but writes only a Bearer challenge.
	if renewed, err := m.Refused(ctx(t), srv, `Bearer error="invalid_token"`, c.Token, true); renewed || err != nil {
		t.Fatalf("an expired DPoP token the server took: %t %v", renewed, err)
	}
	if got, _ := mem.TokenKind("docs@f1"); got != "" {
		t.Fatalf("remembered %q for an expired token", got)
	}
}

// A renewal that could not reach the authorization server settles
// nothing: the token is not marked, and the next refusal tries again. An
// authorization server that answers with the kind held settles it.
func TestRefusedRenewalFailures(t *testing.T) {
	a := newAuthServer(t)
	a.dpop, a.resourceDPoP = true, true
	srv := Server{Name: "docs", URL: a.srv.URL + "/mcp", Key: "docs@f1"}
	m, c := loggedIn(t, srv, &kinds{})
	tokenURL := stored(t, m, "docs").TokenURL
	if err := m.opts.Store.Update(ctx(t), "docs", func(cur tokenstore.Token, _ bool) (tokenstore.Token, bool, error) {
		cur.TokenURL = "http://127.0.0.1:1/token" // nothing listens there
		return cur, true, nil
	}); err != nil {
		t.Fatal(err)
	}
	renewed, err := m.Refused(ctx(t), srv, `DPoP algs="ES256"`, c.Token, false)
	if renewed || err == nil || errors.Is(err, ErrWrongKind) || !strings.Contains(err.Error(), "tried again on the next request") {
		t.Fatalf("an unreachable authorization server: %t %v", renewed, err)
	}
	if tok := stored(t, m, "docs"); tok.Refused != "" {
		t.Fatalf("marked refused after a failure that settles nothing: %q", tok.Refused)
	}
	// Reachable again, but it issues only Bearer tokens.
	if err := m.opts.Store.Update(ctx(t), "docs", func(cur tokenstore.Token, _ bool) (tokenstore.Token, bool, error) {
		cur.TokenURL = tokenURL
		cur.DPoPKey = "" // a Bearer token held
		return cur, true, nil
	}); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	a.bearerOnly = true
	a.mu.Unlock()
	renewed, err = m.Refused(ctx(t), srv, `DPoP algs="ES256"`, c.Token, false)
	if renewed || !errors.Is(err, ErrWrongKind) {
		t.Fatalf("an authorization server that issues only Bearer: %t %v", renewed, err)
	}
	if tok := stored(t, m, "docs"); tok.Refused == "" || heldKind(tok.DPoPKey, tok.TokenType) != KindBearer {
		t.Fatalf("after the Bearer answer: refused %q, %s token", tok.Refused, heldKind(tok.DPoPKey, tok.TokenType))
	}
	// auth refresh, once the authorization server binds again, gets the
	// kind remembered and clears the refusal.
	a.mu.Lock()
	a.bearerOnly = false
	a.mu.Unlock()
	if err := m.Refresh(ctx(t), srv); err != nil {
		t.Fatal(err)
	}
	if st := m.Status(ctx(t), srv); st.State != StateOK || st.TokenType != KindDPoP {
		t.Fatalf("after auth refresh: %s, %s token", st.State, st.TokenType)
	}
}

// An authorization server that answers a request for a bound token with a
// Bearer one: the token is presented as Bearer, and the key kept (a public
// client's refresh token may be bound to it).
func TestBearerIssuedForADPoPRequest(t *testing.T) {
	a := newAuthServer(t)
	a.dpop, a.resourceDPoP, a.bearerOnly = true, true, true
	m := manager(t)
	srv := Server{Name: "docs", URL: a.srv.URL + "/mcp"}
	if _, err := m.Login(ctx(t), srv, "device_code", ""); err != nil {
		t.Fatal(err)
	}
	st := waitState(t, m, srv, StateOK)
	c, _ := m.AccessCredentials(ctx(t), srv)
	if c.Token == "" || c.DPoPKey != "" || stored(t, m, "docs").DPoPKey == "" {
		t.Fatalf("token %q presented with a key %t; key kept %t", c.Token, c.DPoPKey != "", stored(t, m, "docs").DPoPKey != "")
	}
	if st.TokenType != KindBearer || !strings.Contains(st.TokenTypeReason, "issued a Bearer token") {
		t.Fatalf("status: %s (%s)", st.TokenType, st.TokenTypeReason)
	}
	if err := m.Refresh(ctx(t), srv); err != nil || a.proofs < 2 {
		t.Fatalf("the refresh carries no proof by the kept key: %d proofs, %v", a.proofs, err)
	}
}

// An entry that sets "dpop" is not overruled by a refusal: the error says
// to change it.
func TestRefusedKindAgainstTheEntry(t *testing.T) {
	a := newAuthServer(t)
	a.dpop = true
	mem := &kinds{}
	on := true
	srv := Server{Name: "docs", URL: a.srv.URL + "/mcp", Key: "docs@f1", Settings: Settings{DPoP: &on}}
	m, c := loggedIn(t, srv, mem)
	renewed, err := m.Refused(ctx(t), srv, `Bearer error="invalid_token"`, c.Token, true)
	if renewed || !errors.Is(err, ErrWrongKind) || !strings.Contains(err.Error(), `its entry sets "dpop": true`) {
		t.Fatalf("%t %v", renewed, err)
	}
	if got, _ := mem.TokenKind("docs@f1"); got != "" {
		t.Fatalf("remembered %q against the entry's setting", got)
	}
}

// Where the server takes nothing but bound tokens (here: the entry says
// so), a Bearer token from the authorization server fails the login with
// the reason, rather than being kept for a server that will refuse it.
func TestBearerIssuedWhereOnlyBoundWillDo(t *testing.T) {
	a := newAuthServer(t)
	a.dpop, a.bearerOnly = true, true
	m := manager(t)
	on := true
	srv := Server{Name: "docs", URL: a.srv.URL + "/mcp", Settings: Settings{DPoP: &on}}
	if _, err := m.Login(ctx(t), srv, "device_code", ""); err != nil {
		t.Fatal(err)
	}
	st := waitState(t, m, srv, StateError)
	if !strings.Contains(st.Error, "issued a Bearer token") || !strings.Contains(st.Error, `"dpop": true`) {
		t.Fatalf("status error: %q", st.Error)
	}
	if _, ok, _ := m.opts.Store.Get(ctx(t), "docs"); ok {
		t.Fatal("the Bearer token was stored")
	}
}
