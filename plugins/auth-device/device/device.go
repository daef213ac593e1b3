// Package device runs the OAuth device authorization grant (RFC 8628)
// with golang.org/x/oauth2: Begin asks for a device code and returns the
// verification URI and user code at once; Await polls the token endpoint,
// honouring the server's interval and its slow_down answers.
package device

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/dpop"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/internal/oauthflow"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// Flow is the flow name this plugin provides.
const Flow = "device_code"

// defaultFlowTimeout bounds a flow whose server gave no expiry and whose
// grant names no timeout.
const defaultFlowTimeout = 15 * time.Minute

// Auth runs device flows; several may be pending at once.
type Auth struct {
	version string
	client  *http.Client

	mu    sync.Mutex
	flows map[string]*flow
}

type flow struct {
	cfg      *oauth2.Config
	client   *http.Client // for the token endpoint (with DPoP proofs when asked)
	da       *oauth2.DeviceAuthResponse
	opts     []oauth2.AuthCodeOption
	scopes   []string
	deadline time.Time
	tokenURL string
}

// New returns the plugin; version is reported by Info.
func New(version string) *Auth {
	return &Auth{version: version, client: oauthflow.NewClient(), flows: map[string]*flow{}}
}

// Info implements sdk.Auth.
func (a *Auth) Info() sdk.Info {
	return sdk.Info{
		Names:       []string{Flow},
		Version:     a.version,
		Description: "OAuth device authorization (a URL and a code to enter on any device)",
	}
}

// Begin implements sdk.Auth.
func (a *Auth) Begin(ctx context.Context, g sdk.Grant) (sdk.Started, error) {
	if _, err := oauthflow.Endpoint("device authorization endpoint", g.Endpoints.DeviceAuthorizationURL); err != nil {
		return sdk.Started{}, err
	}
	if _, err := oauthflow.Endpoint("token endpoint", g.Endpoints.TokenURL); err != nil {
		return sdk.Started{}, err
	}
	if g.Client.ClientID == "" {
		return sdk.Started{}, errors.New("the device flow needs a client_id")
	}
	tokenClient, err := dpop.Client(a.client, g.DPoPKey)
	if err != nil {
		return sdk.Started{}, err
	}
	cfg := oauthflow.Config(g)
	authOpts := oauthflow.Params(g.Resource, g.ExtraAuthParams)
	da, err := cfg.DeviceAuth(oauthflow.Context(ctx, a.client), authOpts...)
	if err != nil {
		return sdk.Started{}, fmt.Errorf("device authorization at %s: %w", g.Endpoints.DeviceAuthorizationURL, oauthflow.Describe(err))
	}
	if da.VerificationURI == "" || da.UserCode == "" {
		return sdk.Started{}, fmt.Errorf("device authorization at %s gave no verification_uri or user_code", g.Endpoints.DeviceAuthorizationURL)
	}
	for what, u := range map[string]string{"verification_uri": da.VerificationURI, "verification_uri_complete": da.VerificationURIComplete} {
		if u == "" {
			continue
		}
		// The user is sent there: it must be a web page.
		if _, err := oauthflow.Endpoint(what, u); err != nil {
			return sdk.Started{}, fmt.Errorf("the authorization server's %w", err)
		}
	}
	deadline := da.Expiry
	if g.Timeout > 0 && (deadline.IsZero() || time.Now().Add(g.Timeout).Before(deadline)) {
		deadline = time.Now().Add(g.Timeout)
	}
	if deadline.IsZero() {
		deadline = time.Now().Add(defaultFlowTimeout)
	}
	id := newID()
	a.mu.Lock()
	a.flows[id] = &flow{cfg: cfg, client: tokenClient, da: da, opts: oauthflow.Params(g.Resource, g.ExtraTokenParams), scopes: g.Scopes, deadline: deadline, tokenURL: g.Endpoints.TokenURL}
	a.mu.Unlock()
	// Forget a flow nobody awaits.
	time.AfterFunc(time.Until(deadline)+time.Minute, func() { a.take(id) })

	msg := fmt.Sprintf("open %s and enter the code %s", da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete != "" {
		msg = fmt.Sprintf("open %s (or %s and enter the code %s)", da.VerificationURIComplete, da.VerificationURI, da.UserCode)
	}
	return sdk.Started{
		FlowID:                  id,
		VerificationURI:         da.VerificationURI,
		VerificationURIComplete: da.VerificationURIComplete,
		UserCode:                da.UserCode,
		ExpiresIn:               time.Until(deadline).Round(time.Second),
		Message:                 msg,
	}, nil
}

func (a *Auth) take(id string) *flow {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.flows[id]
	delete(a.flows, id)
	return f
}

// Await implements sdk.Auth: it polls until the user approves, denies, or
// the code expires.
func (a *Auth) Await(ctx context.Context, flowID string) (sdk.Token, error) {
	f := a.take(flowID)
	if f == nil {
		return sdk.Token{}, fmt.Errorf("no pending device flow %q (it ended, or expired)", flowID)
	}
	ctx, cancel := context.WithDeadline(ctx, f.deadline)
	defer cancel()
	t, err := f.cfg.DeviceAccessToken(oauthflow.Context(ctx, f.client), f.da, f.opts...)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return sdk.Token{}, errors.New("the device code expired before the user approved it; start again")
		}
		return sdk.Token{}, fmt.Errorf("device flow at %s: %w", f.tokenURL, oauthflow.Describe(err))
	}
	return oauthflow.FromOAuth2(t, f.scopes), nil
}

// Refresh implements sdk.Auth.
func (a *Auth) Refresh(ctx context.Context, g sdk.Grant, refreshToken string) (sdk.Token, error) {
	return oauthflow.Refresh(ctx, a.client, g, refreshToken)
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
