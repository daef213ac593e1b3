package auth

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/oauthmeta"
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
		{"metadata lists other algs", kindInputs{resource: prm([]string{"PS256"}, false), challenge: dpopCh}, KindBearer, "PS256 only"},
		{"challenge offers DPoP", kindInputs{challenge: dpopCh, asAlgs: es256, asKnown: true}, KindDPoP, "challenge offers the DPoP scheme"},
		{"challenge offers both", kindInputs{challenge: bothCh}, KindDPoP, "challenge offers the DPoP scheme"},
		{"challenge takes only other algs", kindInputs{challenge: rsaOnlyCh}, "error", "RS256"},
		{"challenge offers other algs and Bearer", kindInputs{challenge: oauthmeta.ParseChallenge(`Bearer, DPoP algs="RS256"`)}, KindBearer, "RS256 only"},
		{"entry off beats everything", kindInputs{setting: &no, resource: prm(es256, true), challenge: dpopCh, remembered: KindDPoP}, KindBearer, `"dpop": false`},
		{"entry on beats a remembered Bearer", kindInputs{setting: &yes, remembered: KindBearer, rememberedWhy: "refused"}, KindDPoP, `"dpop": true`},
		{"entry on, AS without ES256", kindInputs{setting: &yes, asAlgs: []string{"RS256"}, asKnown: true}, "error", "signs with ES256 only"},
		{"remembered Bearer beats the metadata", kindInputs{remembered: KindBearer, rememberedWhy: "the server refused a DPoP token", resource: prm(es256, false), challenge: dpopCh}, KindBearer, "refused a DPoP token"},
		{"remembered DPoP beats silence", kindInputs{remembered: KindDPoP, rememberedWhy: "the server refused a Bearer token", challenge: bearerCh}, KindDPoP, "refused a Bearer token"},
		{"AS lists no algs: asked anyway", kindInputs{resource: prm(es256, false), asKnown: true}, KindDPoP, "dpop_signing_alg_values_supported"},
		{"AS without ES256, resource would take either", kindInputs{resource: prm(es256, false), asAlgs: []string{"RS256"}, asKnown: true}, KindBearer, "authorization server takes DPoP proofs signed with RS256"},
		{"AS without ES256, resource requires", kindInputs{resource: prm(nil, true), asAlgs: []string{"RS256"}, asKnown: true}, "error", "a DPoP-bound token is needed"},
		{"AS without ES256, challenge offers only DPoP", kindInputs{challenge: dpopCh, asAlgs: []string{"EdDSA"}, asKnown: true}, "error", "EdDSA"},
	}
	for _, c := range cases {
		kind, reason, err := decideKind(c.in)
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
			if c, _ := m.AccessCredentials(ctx(t), srv); c.DPoPKey == "" {
				t.Fatal("no DPoP-bound token where the metadata lists DPoP")
			}
			if kind, err := m.Refused(ctx(t), srv, `Bearer error="invalid_token"`, false); kind || err != nil {
				t.Fatalf("a Bearer token refused with a Bearer challenge is not about the kind: %t %v", kind, err)
			}
			if kind, err := m.Refused(ctx(t), srv, `Bearer error="invalid_token", DPoP algs="ES256"`, true); kind || err != nil {
				t.Fatalf("a DPoP token refused where DPoP is offered is not about the kind: %t %v", kind, err)
			}
			a.failRefresh = tc.failRefresh
			kind, err := m.Refused(ctx(t), srv, bearerOnly, true)
			if !kind {
				t.Fatalf("a DPoP token refused where only Bearer is offered: not about the kind (%v)", err)
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
				if c.Token != "" || cerr != nil {
					t.Fatalf("the refused token is sent again: %q %v", c.Token, cerr)
				}
				if st.State != StateRefused || !strings.Contains(st.Reason, "takes only Bearer tokens") {
					t.Fatalf("status %s (%s)", st.State, st.Reason)
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
			kind, err = m.Refused(ctx(t), srv, `DPoP algs="ES256"`, false)
			if !kind || !errors.Is(err, ErrWrongKind) || !strings.Contains(err.Error(), "not switching again") {
				t.Fatalf("a Bearer token refused after a DPoP one: %t %v", kind, err)
			}
		})
	}
}

// An entry that sets "dpop" is not overruled by a refusal: the error says
// to change it.
func TestRefusedKindAgainstTheEntry(t *testing.T) {
	a := newAuthServer(t)
	a.dpop = true
	mem := &kinds{}
	m := New(Options{Store: manager(t).opts.Store, Plugins: plugins(t), Kinds: mem})
	on := true
	srv := Server{Name: "docs", URL: a.srv.URL + "/mcp", Key: "docs@f1", Settings: Settings{DPoP: &on}}
	if _, err := m.Login(ctx(t), srv, "device_code", ""); err != nil {
		t.Fatal(err)
	}
	waitState(t, m, srv, StateOK)
	kind, err := m.Refused(ctx(t), srv, `Bearer error="invalid_token"`, true)
	if !kind || !errors.Is(err, ErrWrongKind) || !strings.Contains(err.Error(), `its entry sets "dpop": true`) {
		t.Fatalf("%t %v", kind, err)
	}
	if got, _ := mem.TokenKind("docs@f1"); got != "" {
		t.Fatalf("remembered %q against the entry's setting", got)
	}
}
