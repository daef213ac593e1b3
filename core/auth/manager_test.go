package auth

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/tokenstore"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// These tests run the manager against the bundled flow plugins, served
// in-process over gRPC by sdktest, and a small authorization server on
// loopback that publishes metadata and registers clients.

// Device flow by discovery, with a client registered on the way: the
// instructions come at once, the token lands in the store, refresh rotates,
// and logout revokes.
func TestDeviceLoginByDiscovery(t *testing.T) {
	a := newAuthServer(t)
	m := manager(t)
	var changedMu sync.Mutex
	changed := 0
	m.OnChange(func(string) {
		changedMu.Lock()
		changed++
		changedMu.Unlock()
	})
	changes := func() int {
		changedMu.Lock()
		defer changedMu.Unlock()
		return changed
	}
	// Every core watching is told (a hub's sessions share the manager);
	// one that stopped watching is not.
	var others atomic.Int32
	m.OnChange(func(string) { others.Add(1) })
	stop := m.OnChange(func(string) { t.Error("a watcher that stopped watching was told") })
	stop()
	srv := Server{Name: "docs", URL: a.srv.URL + "/mcp"}

	st, err := m.Login(ctx(t), srv, "device", `Bearer resource_metadata="`+a.srv.URL+`/.well-known/oauth-protected-resource/mcp"`)
	if err != nil {
		t.Fatal(err)
	}
	if st.UserCode != "WXYZ-1234" || st.Flow != "device_code" || st.Done {
		t.Fatalf("started %+v", st)
	}
	if s := m.Status(ctx(t), srv); s.State != StatePending || s.UserCode != "WXYZ-1234" {
		t.Fatalf("status while pending: %+v", s)
	}
	s := waitState(t, m, srv, StateOK)
	if s.ExpiresAt == nil || !s.Refreshable || s.Issuer != a.srv.URL {
		t.Fatalf("status %+v", s)
	}
	tok, err := m.AccessToken(ctx(t), srv)
	if err != nil || tok != "at-1" {
		t.Fatalf("access token %q %v", tok, err)
	}
	for i := 0; changes() != 1 || others.Load() != 1; i++ {
		if i > 100 {
			t.Fatalf("credentials changed %d times, want 1 (the other watcher told %d)", changes(), others.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := m.Refresh(ctx(t), srv); err != nil {
		t.Fatal(err)
	}
	if tok, _ := m.AccessToken(ctx(t), srv); tok != "at-2" {
		t.Fatalf("after refresh: %q", tok)
	}
	// A second login reuses the registration.
	if _, err := m.Login(ctx(t), srv, "device_code", ""); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	regs := a.registrations
	a.mu.Unlock()
	if regs != 1 {
		t.Fatalf("%d registrations, want 1 (per issuer)", regs)
	}
	waitState(t, m, srv, StateOK)
	had, err := m.Logout(ctx(t), srv)
	if err != nil || !had {
		t.Fatalf("logout %v %v", had, err)
	}
	a.mu.Lock()
	revoked := len(a.revoked)
	a.mu.Unlock()
	if revoked == 0 {
		t.Fatal("logout did not revoke")
	}
	if s := m.Status(ctx(t), srv); s.State != StateNone {
		t.Fatalf("after logout: %+v", s)
	}
	data, _ := json.Marshal(m.Status(ctx(t), srv))
	if strings.Contains(string(data), "at-") || strings.Contains(string(data), "rt-") {
		t.Fatalf("status shows a token: %s", data)
	}
}

// Client credentials with explicit settings: the token comes at once, and
// a token about to expire is minted again before use.
func TestClientCredentialsExplicit(t *testing.T) {
	a := newAuthServer(t)
	m := manager(t)
	srv := Server{Name: "svc", URL: a.srv.URL + "/mcp", Settings: Settings{
		Flow: "client_credentials", TokenURL: a.srv.URL + "/token", ClientID: "svc", ClientSecret: "x",
	}}
	st, err := m.Login(ctx(t), srv, "", "")
	if err != nil || !st.Done {
		t.Fatalf("login %+v %v", st, err)
	}
	if tok, _ := m.AccessToken(ctx(t), srv); tok != "at-1" {
		t.Fatalf("token %q", tok)
	}
	// Make it about to expire.
	if err := m.opts.Store.Update(ctx(t), "svc", func(cur tokenstore.Token, _ bool) (tokenstore.Token, bool, error) {
		cur.Expiry = time.Now().Add(10 * time.Second)
		return cur, true, nil
	}); err != nil {
		t.Fatal(err)
	}
	if tok, err := m.AccessToken(ctx(t), srv); err != nil || tok != "at-2" {
		t.Fatalf("a token about to expire was not renewed: %q %v", tok, err)
	}
}

func TestClearErrors(t *testing.T) {
	a := newAuthServer(t)
	m := manager(t)
	cases := map[string]struct {
		srv  Server
		flow string
		want string
	}{
		"no client for client credentials": {Server{Name: "s", URL: a.srv.URL + "/mcp"}, "client_credentials", `"client_id"`},
		"plain http endpoint":              {Server{Name: "s", URL: a.srv.URL + "/mcp", Settings: Settings{TokenURL: "http://as.example/token", ClientID: "c"}}, "device_code", "plain http"},
		"no plugin for the flow":           {Server{Name: "s", URL: a.srv.URL + "/mcp", Settings: Settings{TokenURL: a.srv.URL + "/token", ClientID: "c"}}, "saml", "no auth plugin provides saml"},
	}
	for name, c := range cases {
		if _, err := m.Login(ctx(t), c.srv, c.flow, ""); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	if err := m.Refresh(ctx(t), Server{Name: "never"}); err == nil || !strings.Contains(err.Error(), "not logged in") {
		t.Errorf("refresh without a login: %v", err)
	}
	// An authorization server without PKCE S256 is refused for pkce.
	a.mu.Lock()
	a.noS256 = true
	a.mu.Unlock()
	if _, err := m.Login(ctx(t), Server{Name: "s", URL: a.srv.URL + "/mcp"}, "pkce", ""); err == nil || !strings.Contains(err.Error(), "S256") {
		t.Errorf("no S256: %v", err)
	}
}

// minting is a flow that gets its tokens without any OAuth server (as a
// command that prints one would) and says so with sdk.AuthNeeds.
type minting struct {
	mu sync.Mutex
	n  int
}

func (m *minting) Info() sdk.Info { return sdk.Info{Names: []string{"minted"}} }

func (m *minting) Needs(string) sdk.FlowNeeds { return sdk.FlowNeeds{} }

func (m *minting) mint(g sdk.Grant) (sdk.Token, error) {
	if g.Endpoints.TokenURL != "" || g.Client.ClientID != "" {
		return sdk.Token{}, errors.New("given an authorization server or client it did not ask for")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n++
	return sdk.Token{AccessToken: "minted-" + itoa(m.n), TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}, nil
}

func (m *minting) Begin(_ context.Context, g sdk.Grant) (sdk.Started, error) {
	t, err := m.mint(g)
	return sdk.Started{Token: &t}, err
}

func (m *minting) Await(context.Context, string) (sdk.Token, error) {
	return sdk.Token{}, errors.New("no flow to await")
}

func (m *minting) Refresh(_ context.Context, g sdk.Grant, rt string) (sdk.Token, error) {
	if rt != "" {
		return sdk.Token{}, errors.New("given a refresh token")
	}
	return m.mint(g)
}

// A flow whose plugin needs no authorization server and no client: nothing
// is discovered or registered, the token is stored for the server's URL,
// and a refresh runs the flow again.
func TestFlowThatNeedsNothing(t *testing.T) {
	a := newAuthServer(t)
	m := manager(t)
	srv := Server{Name: "corp", URL: a.srv.URL + "/mcp", Settings: Settings{Flow: "minted"}}
	st, err := m.Login(ctx(t), srv, "", "")
	if err != nil || !st.Done {
		t.Fatalf("login %+v %v", st, err)
	}
	a.mu.Lock()
	regs := a.registrations
	a.mu.Unlock()
	if regs != 0 {
		t.Fatalf("%d client registrations for a flow that needs no client", regs)
	}
	if tok, _ := m.AccessToken(ctx(t), srv); tok != "minted-1" {
		t.Fatalf("token %q", tok)
	}
	if !m.Status(ctx(t), srv).Refreshable {
		t.Fatal("a minted token should be refreshable")
	}
	if err := m.Refresh(ctx(t), srv); err != nil {
		t.Fatal(err)
	}
	if tok, _ := m.AccessToken(ctx(t), srv); tok != "minted-2" {
		t.Fatalf("after refresh: %q", tok)
	}
}

// The registration order of the MCP specification: a client_id set by
// hand, else a client ID metadata document where the authorization server
// accepts them (the entry's, else the project's), else dynamic
// registration; "none" turns documents off.
func TestRegistrationOrder(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cimd      bool
		settings  Settings
		wantID    string
		wantRegs  int
		wantError string
		webOnly   bool
	}{
		{name: "document by default", cimd: true, wantID: DefaultClientMetadataURL},
		{name: "the entry's document", cimd: true, settings: Settings{ClientMetadataURL: "https://client.example/ica.json"}, wantID: "https://client.example/ica.json"},
		{name: "documents off", cimd: true, settings: Settings{ClientMetadataURL: "none"}, wantID: "dyn-1", wantRegs: 1},
		{name: "no documents offered", cimd: false, wantID: "dyn-1", wantRegs: 1},
		{name: "client_id first", cimd: true, settings: Settings{ClientID: "by-hand"}, wantID: "by-hand"},
		{name: "a document must be https", cimd: true, settings: Settings{ClientMetadataURL: "http://client.example/ica.json"}, wantError: "must use https"},
		{name: "a document needs a path", cimd: true, settings: Settings{ClientMetadataURL: "https://client.example"}, wantError: "with a path"},
		{name: "registration refuses the loopback redirect", webOnly: true, wantError: "refused the redirect URI http://127.0.0.1/callback (invalid_redirect_uri: redirect URIs must use https): the server does not take the loopback redirect a native client uses"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuthServer(t)
			a.cimd, a.webRedirectsOnly = tc.cimd, tc.webOnly
			m := manager(t)
			srv := Server{Name: "docs", URL: a.srv.URL + "/mcp", Settings: tc.settings}
			_, err := m.Login(ctx(t), srv, "device_code", "")
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("login error %v, want one saying %q", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			waitState(t, m, srv, StateOK)
			ids, regs := a.seen()
			if len(ids) == 0 || ids[0] != tc.wantID || regs != tc.wantRegs {
				t.Fatalf("client_ids %q and %d registrations, want %q and %d", ids, regs, tc.wantID, tc.wantRegs)
			}
		})
	}
}

// A client belongs to the authorization server it was registered with:
// when the server's metadata names another, the proxy registers there
// instead of offering the old client, and a client_id set by hand is
// refused with the reason.
func TestIssuerBinding(t *testing.T) {
	a1 := newAuthServer(t)
	a2 := newAuthServer(t)
	a2.resource = a1.srv.URL + "/mcp"
	m := manager(t)
	srv := Server{Name: "docs", URL: a1.srv.URL + "/mcp"}
	if _, err := m.Login(ctx(t), srv, "device_code", ""); err != nil {
		t.Fatal(err)
	}
	waitState(t, m, srv, StateOK)
	a1.mu.Lock()
	a1.movedTo = a2.srv.URL
	a1.mu.Unlock()
	if _, err := m.Login(ctx(t), srv, "device_code", ""); err != nil {
		t.Fatal(err)
	}
	if st := waitState(t, m, srv, StateOK); st.Issuer != a2.srv.URL {
		t.Fatalf("logged in with %s, want the new authorization server %s", st.Issuer, a2.srv.URL)
	}
	ids, regs := a2.seen()
	if regs != 1 || len(ids) == 0 || ids[0] != "dyn-1" {
		t.Fatalf("the new authorization server saw client_ids %q and %d registrations, want its own registration", ids, regs)
	}

	// By hand: the client_id last used with a1 is not sent to a2.
	b1 := newAuthServer(t)
	b2 := newAuthServer(t)
	b2.resource = b1.srv.URL + "/mcp"
	pinned := Server{Name: "pinned", URL: b1.srv.URL + "/mcp", Settings: Settings{ClientID: "by-hand"}}
	if _, err := m.Login(ctx(t), pinned, "device_code", ""); err != nil {
		t.Fatal(err)
	}
	waitState(t, m, pinned, StateOK)
	b1.mu.Lock()
	b1.movedTo = b2.srv.URL
	b1.mu.Unlock()
	_, err := m.Login(ctx(t), pinned, "device_code", "")
	if err == nil || !strings.Contains(err.Error(), "belongs to "+b1.srv.URL) {
		t.Fatalf("login with a moved authorization server: %v, want a refusal naming the old one", err)
	}
	if ids, _ := b2.seen(); len(ids) != 0 {
		t.Fatalf("the new authorization server saw client_ids %q", ids)
	}
	// Confirmed in the settings: the user says the client is a2's now.
	pinned.Settings.Issuer = b2.srv.URL
	if _, err := m.Login(ctx(t), pinned, "device_code", ""); err != nil {
		t.Fatal(err)
	}
}

// Step-up: a refusal for want of scope starts a login asking for the
// scopes asked for before and the new ones; the same demand, never
// granted, gets at most two such logins; a scope the token was granted
// gets none; auth_status says why.
func TestStepUp(t *testing.T) {
	a := newAuthServer(t)
	// It grants mcp whatever is asked (a token response without scope
	// means the scope asked for, RFC 6749 §5.1).
	a.granted = "mcp"
	m := manager(t)
	srv := Server{Name: "docs", URL: a.srv.URL + "/mcp"}
	if _, err := m.Login(ctx(t), srv, "device_code", ""); err != nil {
		t.Fatal(err)
	}
	waitState(t, m, srv, StateOK)
	refusal := `Bearer error="insufficient_scope", scope="write", resource_metadata="` + a.srv.URL + `/.well-known/oauth-protected-resource/mcp"`
	for round := 1; round <= maxStepUps; round++ {
		st, err := m.StepUp(ctx(t), srv, refusal, "tools/call")
		if err != nil || st.UserCode == "" {
			t.Fatalf("step-up %d: %+v %v", round, st, err)
		}
		waitState(t, m, srv, StateOK)
	}
	a.mu.Lock()
	scopes := append([]string(nil), a.scopes...)
	a.mu.Unlock()
	if want := []string{"mcp", "mcp write", "mcp write"}; strings.Join(scopes, "|") != strings.Join(want, "|") {
		t.Fatalf("the logins asked for %q, want %q (the union)", scopes, want)
	}
	_, err := m.StepUp(ctx(t), srv, refusal, "tools/call")
	if !errors.Is(err, ErrNoStepUp) || !strings.Contains(err.Error(), "after 2 logins") {
		t.Fatalf("a third step-up for the same demand: %v", err)
	}
	st := m.Status(ctx(t), srv)
	if st.State != StateInsufficientScope || !strings.Contains(st.Reason, "not asking again") || strings.Join(st.NeedsScopes, " ") != "mcp write" {
		t.Fatalf("status %+v", st)
	}
	// A new demand starts over.
	if _, err := m.StepUp(ctx(t), srv, `Bearer error="insufficient_scope", scope="admin"`, "tools/call"); err != nil {
		t.Fatal(err)
	}
	if st := m.Status(ctx(t), srv); st.State != StatePending {
		t.Fatalf("status while the new login runs: %+v", st)
	}
	waitState(t, m, srv, StateOK)

	// Granted and still refused: no login helps.
	g := newAuthServer(t)
	g.granted = "mcp write"
	gs := Server{Name: "granted", URL: g.srv.URL + "/mcp"}
	if _, err := m.Login(ctx(t), gs, "device_code", ""); err != nil {
		t.Fatal(err)
	}
	waitState(t, m, gs, StateOK)
	if _, err := m.StepUp(ctx(t), gs, `Bearer error="insufficient_scope", scope="write"`, "tools/call"); !errors.Is(err, ErrNoStepUp) || !strings.Contains(err.Error(), "was granted") {
		t.Fatalf("step-up for a granted scope: %v", err)
	}
	if _, err := m.StepUp(ctx(t), Server{Name: "nobody", URL: g.srv.URL + "/mcp"}, `Bearer error="insufficient_scope"`, "x"); err == nil {
		t.Fatal("a step-up without a login started one")
	}
}

// DPoP where the server takes it: the login makes a key, every token
// request (the grant, each refresh) proves it, and the key is kept with
// the token for the sessions to sign with; "dpop": false turns it off.
func TestDPoPKeyPerLogin(t *testing.T) {
	for _, off := range []bool{false, true} {
		a := newAuthServer(t)
		a.dpop, a.resourceDPoP = true, true
		m := manager(t)
		srv := Server{Name: "docs", URL: a.srv.URL + "/mcp"}
		if off {
			srv.Settings.DPoP = new(bool)
		}
		if _, err := m.Login(ctx(t), srv, "device_code", ""); err != nil {
			t.Fatal(err)
		}
		waitState(t, m, srv, StateOK)
		if err := m.Refresh(ctx(t), srv); err != nil {
			t.Fatal(err)
		}
		c, err := m.AccessCredentials(ctx(t), srv)
		a.mu.Lock()
		proofs := a.proofs
		a.mu.Unlock()
		if off {
			if err != nil || c.DPoPKey != "" || proofs != 0 {
				t.Fatalf("dpop off: key %t, %d proofs, %v", c.DPoPKey != "", proofs, err)
			}
			continue
		}
		if err != nil || !strings.Contains(c.DPoPKey, "PRIVATE KEY") || proofs < 2 {
			t.Fatalf("dpop: key %t, %d token requests with a proof (want the grant and the refresh), %v", c.DPoPKey != "", proofs, err)
		}
	}
}

// A stored token that names no resource (written by hand, or by an older
// proxy) is never sent: it could be anyone's, and a server that took the
// entry's name must not get it. One for another URL is not sent either.
func TestTokenWithoutResourceIsNotSent(t *testing.T) {
	a := newAuthServer(t)
	m := manager(t)
	srv := Server{Name: "svc", URL: a.srv.URL + "/mcp", Settings: Settings{
		Flow: "client_credentials", TokenURL: a.srv.URL + "/token", ClientID: "svc", ClientSecret: "x",
	}}
	if st, err := m.Login(ctx(t), srv, "", ""); err != nil || !st.Done {
		t.Fatalf("login %+v %v", st, err)
	}
	if tok, _ := m.AccessToken(ctx(t), srv); tok == "" {
		t.Fatal("no token after the login")
	}
	for name, resource := range map[string]string{"empty": "", "another URL": "https://elsewhere.example/mcp"} {
		if err := m.opts.Store.Update(ctx(t), "svc", func(cur tokenstore.Token, _ bool) (tokenstore.Token, bool, error) {
			cur.Resource = resource
			return cur, true, nil
		}); err != nil {
			t.Fatal(err)
		}
		if tok, err := m.AccessToken(ctx(t), srv); tok != "" || err != nil {
			t.Fatalf("%s resource: the token was sent (%q, %v)", name, tok, err)
		}
	}
}

// Sessions asking for the same login while one is under way follow that
// one: one device code, one request to the authorization server. A login
// asking for more starts a new one.
func TestLoginUnderWayIsShared(t *testing.T) {
	a := newAuthServer(t)
	m := manager(t)
	srv := Server{Name: "docs", URL: a.srv.URL + "/mcp"}
	challenge := `Bearer resource_metadata="` + a.srv.URL + `/.well-known/oauth-protected-resource/mcp"`
	var wg sync.WaitGroup
	started := make([]Started, 4)
	errs := make([]error, 4)
	for i := range started {
		wg.Go(func() { started[i], errs[i] = m.Login(ctx(t), srv, "device", challenge) })
	}
	wg.Wait()
	for i := range started {
		if errs[i] != nil || started[i] != started[0] || started[i].UserCode == "" {
			t.Fatalf("login %d: %+v %v (the first: %+v)", i, started[i], errs[i], started[0])
		}
	}
	a.mu.Lock()
	asked := len(a.scopes)
	a.mu.Unlock()
	if asked != 1 {
		t.Fatalf("the device endpoint was asked %d times, want once", asked)
	}
	waitState(t, m, srv, StateOK)
}
