package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/tidwall/sjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/oauthmeta"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/tokenstore"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/dpop"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// Plugins finds the auth plugin providing a flow; pluginhost.Host
// implements it.
type Plugins interface {
	Auth(ctx context.Context, flow string) (sdk.AuthClient, string, error)
}

// DefaultFlow is the flow used when neither the call nor the server's
// settings name one.
const DefaultFlow = "pkce"

// refreshAhead is how long before expiry a token is refreshed.
const refreshAhead = time.Minute

// loginTimeout bounds a login whose settings name no timeout.
const loginTimeout = 10 * time.Minute

// Options configure a Manager.
type Options struct {
	Store   *tokenstore.Store
	Plugins Plugins
	Logger  hclog.Logger
	// Discoverer finds authorization servers; the zero value works.
	Discoverer oauthmeta.Discoverer
	// Kinds remembers the kind of token each server takes (nil: nothing
	// is remembered between starts).
	Kinds Kinds
}

// Server is what the manager needs to know of a configured server.
type Server struct {
	Name     string
	URL      string
	Settings Settings
	// Key names the entry in Kinds: its name and the fingerprint of its
	// settings, so an edited entry is decided afresh.
	Key string
}

// Login states, as auth_status reports them.
const (
	StateNone    = "none"
	StatePending = "pending"
	StateOK      = "ok"
	StateExpired = "expired"
	StateError   = "error"
)

// Status is a server's login, without any secret.
type Status struct {
	Server    string     `json:"server"`
	State     string     `json:"state"`
	Flow      string     `json:"flow,omitempty"`
	Issuer    string     `json:"issuer,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Scopes    []string   `json:"scopes,omitempty"`
	// Refreshable says a refresh token (or the client's credentials) can
	// renew the token without the user.
	Refreshable bool `json:"refreshable,omitempty"`
	// TokenType is the kind of token held, Bearer or DPoP (bound to a
	// key of the proxy's), and TokenTypeReason why the login asked for
	// it.
	TokenType       string `json:"token_type,omitempty"`
	TokenTypeReason string `json:"token_type_reason,omitempty"`
	Error           string `json:"error,omitempty"`
	// A pending login's instructions.
	AuthorizationURL string `json:"authorization_url,omitempty"`
	VerificationURI  string `json:"verification_uri,omitempty"`
	UserCode         string `json:"user_code,omitempty"`
	// Reason says why a new login is wanted, or why none will help: the
	// server refused a request for want of scope (StepUp).
	Reason string `json:"reason,omitempty"`
	// NeedsScopes are what the next login asks for after such a refusal.
	NeedsScopes []string `json:"needs_scopes,omitempty"`
}

// Started is what a login asks of the user, returned at once.
type Started struct {
	Server                  string `json:"server"`
	Flow                    string `json:"flow"`
	AuthorizationURL        string `json:"authorization_url,omitempty"`
	VerificationURI         string `json:"verification_uri,omitempty"`
	VerificationURIComplete string `json:"verification_uri_complete,omitempty"`
	UserCode                string `json:"user_code,omitempty"`
	ExpiresInSeconds        int64  `json:"expires_in_seconds,omitempty"`
	Message                 string `json:"message"`
	// Done is set when the flow needed no user and the token is stored.
	Done bool `json:"done"`
}

// Manager runs logins and keeps tokens fresh. It is safe for concurrent
// use.
type Manager struct {
	opts Options
	log  hclog.Logger
	http *http.Client

	// beginMu makes a login's check for one under way and its start one
	// step: sessions asking together start one flow.
	beginMu sync.Mutex
	mu      sync.Mutex
	pending map[string]*pending // by server
	// changed are called after a server's credentials changed, so its
	// sessions are recycled: one per proxy core (a hub has one per
	// session, all on this manager).
	changed   map[int]func(server string)
	changedID int
}

type pending struct {
	started Started
	err     string
	cancel  context.CancelFunc
	done    bool
	// flow and scopes are what it asks for: a login that asks for the
	// same joins it.
	flow   string
	scopes []string
}

// New returns a Manager.
func New(opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	return &Manager{
		opts:    opts,
		log:     opts.Logger,
		http:    &http.Client{Timeout: 30 * time.Second, CheckRedirect: noRedirects},
		pending: map[string]*pending{},
	}
}

func noRedirects(*http.Request, []*http.Request) error {
	return errors.New("the authorization server answered with a redirect; refused")
}

// OnChange adds f to what runs after a server's credentials changed;
// remove takes it away.
func (m *Manager) OnChange(f func(server string)) (remove func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.changed == nil {
		m.changed = map[int]func(string){}
	}
	m.changedID++
	id := m.changedID
	m.changed[id] = f
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.changed, id)
	}
}

func (m *Manager) notify(server string) {
	m.mu.Lock()
	fs := make([]func(string), 0, len(m.changed))
	for _, f := range m.changed {
		fs = append(fs, f)
	}
	m.mu.Unlock()
	for _, f := range fs {
		f(server)
	}
}

// Login starts a login with flow ("" for the server's, else DefaultFlow),
// using challenge (the WWW-Authenticate value of the server's 401, if
// known) for discovery. It returns at once with what the user must do; the
// flow ends in the background, and Status follows it.
func (m *Manager) Login(ctx context.Context, srv Server, flow, challenge string) (Started, error) {
	if flow == "" {
		flow = srv.Settings.Flow
	}
	if flow == "" {
		flow = DefaultFlow
	}
	flow = normalizeFlow(flow)
	plugin, file, err := m.opts.Plugins.Auth(ctx, flow)
	if err != nil {
		return Started{}, fmt.Errorf("server %q: %w", srv.Name, err)
	}
	needs, err := plugin.Needs(ctx, flow)
	if err != nil {
		return Started{}, fmt.Errorf("server %q: %s: %w", srv.Name, file, err)
	}
	g, meta, err := m.grant(ctx, srv, flow, challenge, needs)
	if err != nil {
		return Started{}, fmt.Errorf("server %q: %w", srv.Name, err)
	}
	m.beginMu.Lock()
	defer m.beginMu.Unlock()
	m.mu.Lock()
	if p := m.pending[srv.Name]; p != nil && !p.done && p.flow == flow && slices.Equal(p.scopes, g.Scopes) {
		// A login under way asks for the same: every session that needs
		// it follows that one (one browser tab, one code), not a new one
		// that would void it.
		started := p.started
		m.mu.Unlock()
		return started, nil
	}
	m.mu.Unlock()
	st, err := plugin.Begin(ctx, g)
	if err != nil {
		return Started{}, fmt.Errorf("server %q: %s: %w", srv.Name, file, err)
	}
	out := Started{
		Server: srv.Name, Flow: flow,
		AuthorizationURL: st.AuthorizationURL, VerificationURI: st.VerificationURI,
		VerificationURIComplete: st.VerificationURIComplete, UserCode: st.UserCode,
		ExpiresInSeconds: int64(st.ExpiresIn / time.Second), Message: st.Message,
	}
	if u := out.AuthorizationURL; u != "" {
		// The user will open it: only ever a web page.
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") {
			return Started{}, fmt.Errorf("server %q: the authorization URL %q is not a web address; refused", srv.Name, u)
		}
	}
	if st.Token != nil {
		meta.remint = true
		if err := m.save(ctx, srv.Name, g, meta, *st.Token); err != nil {
			return Started{}, err
		}
		out.Done = true
		m.notify(srv.Name)
		return out, nil
	}

	timeout := g.Timeout
	if timeout <= 0 {
		timeout = loginTimeout
	}
	actx, cancel := context.WithTimeout(context.Background(), timeout)
	p := &pending{started: out, cancel: cancel, flow: flow, scopes: g.Scopes}
	m.mu.Lock()
	if old := m.pending[srv.Name]; old != nil && !old.done {
		old.cancel() // a new login replaces the one under way
	}
	m.pending[srv.Name] = p
	m.mu.Unlock()
	go func() {
		defer cancel()
		t, err := plugin.Await(actx, st.FlowID)
		if err != nil {
			err = fmt.Errorf("%s: %w", file, err)
		} else {
			err = m.save(actx, srv.Name, g, meta, t)
		}
		m.mu.Lock()
		p.done = true
		if err != nil {
			p.err = err.Error()
		}
		m.mu.Unlock()
		if err != nil {
			m.log.Warn("login failed", "server", srv.Name, "flow", flow, "error", err)
			return
		}
		m.log.Info("logged in", "server", srv.Name, "flow", flow)
		m.notify(srv.Name)
	}()
	return out, nil
}

// meta is what a token is stored with besides itself.
type meta struct {
	issuer, revocationURL string
	// remint: the flow needed no user, so it can run again to renew.
	remint bool
	// kindReason says why the login asked for the kind of token it did;
	// boundOnly that a Bearer token is of no use.
	kindReason string
	boundOnly  bool
}

// grant gathers everything flow needs for srv: endpoints (settings, else
// discovery), client (settings, else a registration), scopes, resource.
// A flow whose plugin says it needs no authorization server or no client
// gets none, and nothing is discovered or registered for it.
func (m *Manager) grant(ctx context.Context, srv Server, flow, challenge string, needs sdk.FlowNeeds) (sdk.Grant, meta, error) {
	s := srv.Settings
	su, err := url.Parse(srv.URL)
	if err != nil || su.Host == "" {
		return sdk.Grant{}, meta{}, fmt.Errorf("server URL %q is not a URL", srv.URL)
	}
	g := sdk.Grant{
		Flow: flow, Server: srv.Name,
		Resource:         oauthmeta.CanonicalResource(su),
		Scopes:           s.Scopes,
		ExtraAuthParams:  s.ExtraAuthParams,
		ExtraTokenParams: s.ExtraTokenParams,
		Options:          s.Options,
		Timeout:          seconds(s.Timeout),
	}
	var registrationURL string
	metadataDocs := false // the authorization server accepts client ID metadata documents
	kin := kindInputs{setting: s.DPoP, challenge: oauthmeta.ParseChallenge(challenge)}
	if m.opts.Kinds != nil && srv.Key != "" {
		kin.remembered, kin.rememberedWhy = m.opts.Kinds.TokenKind(srv.Key)
	}
	switch {
	case !needs.AuthorizationServer:
	case s.explicit():
		for what, u := range map[string]string{"token_url": s.TokenURL, "authorization_url": s.AuthorizationURL,
			"device_authorization_url": s.DeviceAuthorizationURL, "revocation_url": s.RevocationURL} {
			if u == "" {
				continue
			}
			if _, err := oauthmeta.CheckEndpoint(what, u); err != nil {
				return sdk.Grant{}, meta{}, err
			}
		}
		g.Endpoints = sdk.Endpoints{Issuer: s.Issuer, AuthorizationURL: s.AuthorizationURL, TokenURL: s.TokenURL,
			DeviceAuthorizationURL: s.DeviceAuthorizationURL, RevocationURL: s.RevocationURL}
		if g.Endpoints.Issuer == "" {
			tu, _ := url.Parse(s.TokenURL)
			g.Endpoints.Issuer = tu.Scheme + "://" + tu.Host
		}
	default:
		found, err := m.opts.Discoverer.Discover(ctx, srv.URL, challenge)
		if err != nil {
			return sdk.Grant{}, meta{}, err
		}
		as := found.Server
		if flow == "pkce" && !as.SupportsS256() {
			return sdk.Grant{}, meta{}, fmt.Errorf("authorization server %s does not offer PKCE with S256; refused", as.Issuer)
		}
		g.Endpoints = sdk.Endpoints{Issuer: as.Issuer, AuthorizationURL: as.AuthorizationEndpoint, TokenURL: as.TokenEndpoint,
			DeviceAuthorizationURL: as.DeviceAuthorizationEndpoint, RevocationURL: as.RevocationEndpoint}
		g.Resource = found.Resource
		if len(g.Scopes) == 0 {
			g.Scopes = found.Scopes
		}
		registrationURL = as.RegistrationEndpoint
		metadataDocs = as.ClientIDMetadataDocumentSupported
		kin.resource, kin.asAlgs, kin.asKnown = found.Metadata, as.DPoPSigningAlgValuesSupported, true
		if flow == "pkce" && as.AuthorizationResponseIssParameter {
			// The server promises iss on its callbacks (RFC 9207): one
			// without it is refused, as a mix-up attack would look.
			opts := g.Options
			if len(opts) == 0 {
				opts = []byte("{}")
			}
			if withIss, err := sjson.SetBytes(opts, "require_iss", true); err == nil {
				g.Options = withIss
			}
		}
	}
	kind, kindReason, required, err := decideKind(kin)
	if err != nil {
		return sdk.Grant{}, meta{}, err
	}
	if kind == KindDPoP {
		key, err := dpop.NewKey()
		if err != nil {
			return sdk.Grant{}, meta{}, err
		}
		g.DPoPKey = key
	}
	// The server's last login, if any: what it asked for, and which
	// issuer its client belongs to.
	last, hadLogin, err := m.opts.Store.Get(ctx, srv.Name)
	if err != nil {
		return sdk.Grant{}, meta{}, err
	}
	switch {
	case last.StepUp != nil:
		// A step-up: the scopes asked for before and those the server
		// demanded (StepUp).
		g.Scopes = union(s.Scopes, last.StepUp.Scopes)
	case hadLogin && strings.EqualFold(kin.challenge.Error, "insufficient_scope"):
		// A login after a refusal for want of scope asks for the scopes
		// asked for before too, not only those the refusal names.
		g.Scopes = union(priorScopes(last), g.Scopes)
	}
	if needs.Client {
		client, err := m.client(ctx, srv, last, g.Endpoints.Issuer, registrationURL, metadataDocs, flow)
		if err != nil {
			return sdk.Grant{}, meta{}, err
		}
		g.Client = client
	}
	return g, meta{issuer: g.Endpoints.Issuer, revocationURL: g.Endpoints.RevocationURL, kindReason: kindReason, boundOnly: required}, nil
}

// client picks the OAuth client, in the order the MCP specification
// gives: a client registered by hand (the settings' client_id), else a
// client ID metadata document where the authorization server accepts one,
// else a client registered dynamically with this issuer before, else one
// registered now, else an error asking for a client_id. Every client is
// bound to the issuer it belongs to: a registration is kept per issuer and
// never offered to another, and a configured client_id last used with
// another authorization server is not sent to the new one.
func (m *Manager) client(ctx context.Context, srv Server, last tokenstore.Token, issuer, registrationURL string, metadataDocs bool, flow string) (sdk.Client, error) {
	s := srv.Settings
	if s.ClientID != "" {
		if err := sameIssuer(srv, last, issuer); err != nil {
			return sdk.Client{}, err
		}
		return s.configuredClient()
	}
	if flow == "client_credentials" {
		return sdk.Client{}, errors.New(`the client credentials flow needs "client_id", and "client_secret" or "private_key_file", in the server's "oauth" settings`)
	}
	if metadataDocs {
		doc, err := metadataDocument(s)
		if err != nil {
			return sdk.Client{}, err
		}
		if doc != "" {
			m.log.Debug("logging in with a client ID metadata document", "issuer", issuer, "client_id", doc)
			return sdk.Client{ClientID: doc, RedirectURI: s.RedirectURI, AuthMethod: "none"}, nil
		}
	}
	if reg, ok, err := m.opts.Store.Registration(ctx, issuer); err != nil {
		return sdk.Client{}, err
	} else if ok {
		return sdk.Client{ClientID: reg.ClientID, ClientSecret: reg.ClientSecret, RedirectURI: s.RedirectURI, AuthMethod: reg.AuthMethod}, nil
	}
	if registrationURL == "" {
		return sdk.Client{}, fmt.Errorf(`authorization server %s offers neither client ID metadata documents nor dynamic client registration; register a client there and set "oauth": {"client_id": "..."} in the server's entry`, issuer)
	}
	redirect := s.RedirectURI
	if redirect == "" {
		// RFC 8252 §7.3: the port of a loopback redirect URI may vary.
		redirect = "http://127.0.0.1/callback"
	}
	reg, err := register(ctx, m.http, registrationURL, redirect)
	if err != nil {
		return sdk.Client{}, err
	}
	if err := m.opts.Store.PutRegistration(ctx, issuer, reg); err != nil {
		return sdk.Client{}, err
	}
	m.log.Info("registered a client", "issuer", issuer, "client_id", reg.ClientID)
	return sdk.Client{ClientID: reg.ClientID, ClientSecret: reg.ClientSecret, RedirectURI: s.RedirectURI, AuthMethod: reg.AuthMethod}, nil
}

// sameIssuer refuses to send the configured client to an authorization
// server other than the one it was registered with: the settings' issuer
// when given, else the issuer of the server's last login (last) with that
// client.
func sameIssuer(srv Server, last tokenstore.Token, issuer string) error {
	s := srv.Settings
	known := strings.TrimSuffix(s.Issuer, "/")
	if known == "" && last.ClientID == s.ClientID {
		known = strings.TrimSuffix(last.Issuer, "/")
	}
	if known == "" || issuer == "" || known == strings.TrimSuffix(issuer, "/") {
		return nil
	}
	return fmt.Errorf(`server %q now names the authorization server %s, but its client_id %q belongs to %s; a client is not sent to another authorization server: register one with %s and set it as "client_id", with "issuer": %q`,
		srv.Name, issuer, s.ClientID, known, issuer, issuer)
}

func (m *Manager) save(ctx context.Context, server string, g sdk.Grant, mt meta, t sdk.Token) error {
	if t.AccessToken == "" {
		return errors.New("the flow returned no access token")
	}
	if g.DPoPKey != "" && heldKind(g.DPoPKey, t.TokenType) == KindBearer {
		// The authorization server did not bind it (RFC 9449 §5): it is
		// presented as what it is (heldKind). The key stays: a public
		// client's refresh token may be bound to it all the same.
		if mt.boundOnly {
			return fmt.Errorf("a DPoP-bound token is needed (%s), but the authorization server %s issued a Bearer token; it may not support DPoP", mt.kindReason, mt.issuer)
		}
		mt.kindReason = "a DPoP-bound token was asked for (" + mt.kindReason + "), but the authorization server issued a Bearer token"
	}
	return m.opts.Store.Update(ctx, server, func(cur tokenstore.Token, ok bool) (tokenstore.Token, bool, error) {
		next := tokenstore.Token{
			Issuer: mt.issuer, Resource: g.Resource, ClientID: g.Client.ClientID, Flow: g.Flow, Remint: mt.remint,
			TokenURL: g.Endpoints.TokenURL, RevocationURL: mt.revocationURL,
			AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.TokenType, Expiry: t.Expiry, Scopes: t.Scopes,
			Requested: g.Scopes, DPoPKey: g.DPoPKey, KindReason: mt.kindReason,
		}
		if ok && cur.StepUp != nil && subset(cur.StepUp.Scopes, g.Scopes) {
			// The step-up's login: kept, so a server that still refuses
			// is not asked forever (StepUp counts the logins).
			su := *cur.StepUp
			su.Done = true
			next.StepUp = &su
		}
		return next, true, nil
	})
}

// Status reports a server's login.
func (m *Manager) Status(ctx context.Context, srv Server) Status {
	st := Status{Server: srv.Name, State: StateNone}
	m.mu.Lock()
	p := m.pending[srv.Name]
	var pcopy pending
	if p != nil {
		pcopy = *p
	}
	m.mu.Unlock()
	t, ok, err := m.opts.Store.Get(ctx, srv.Name)
	switch {
	case err != nil:
		st.State, st.Error = StateError, err.Error()
		return st
	case ok:
		st.State, st.Flow, st.Issuer, st.Scopes = StateOK, t.Flow, t.Issuer, t.Scopes
		st.Refreshable = t.RefreshToken != "" || t.Remint || t.Flow == "client_credentials"
		st.TokenType, st.TokenTypeReason = heldKind(t.DPoPKey, t.TokenType), t.KindReason
		if t.Refused != "" {
			st.State, st.Reason, st.Refreshable = StateRefused, t.Refused, false
		}
		if su := t.StepUp; su != nil && (!su.Done || su.Refused != "") {
			st.State, st.Reason, st.NeedsScopes = StateInsufficientScope, su.Reason, su.Scopes
			if su.Refused != "" {
				st.Reason = su.Refused
			}
		}
		if !t.Expiry.IsZero() {
			exp := t.Expiry
			st.ExpiresAt = &exp
			if time.Now().After(exp) && st.State != StateRefused {
				st.State = StateExpired
			}
		}
	}
	if p != nil && !pcopy.done {
		st.State, st.Flow = StatePending, pcopy.started.Flow
		st.AuthorizationURL, st.VerificationURI, st.UserCode = pcopy.started.AuthorizationURL, pcopy.started.VerificationURI, pcopy.started.UserCode
	} else if p != nil && pcopy.err != "" && st.State != StateOK {
		st.State, st.Error = StateError, pcopy.err
	}
	return st
}
