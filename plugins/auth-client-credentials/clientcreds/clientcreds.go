// Package clientcreds runs the OAuth 2.0 client credentials grant
// (RFC 6749 §4.4) with golang.org/x/oauth2, sending the resource
// indicator (RFC 8707) with every token request. The client authenticates
// with its secret, or with a JWT signed by its private key
// (private_key_jwt, RFC 7523).
package clientcreds

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/dpop"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/internal/oauthflow"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// Flow is the flow name this plugin provides.
const Flow = "client_credentials"

// Auth mints tokens with the client's own credentials.
type Auth struct {
	version string
	client  *http.Client
}

// New returns the plugin; version is reported by Info.
func New(version string) *Auth {
	return &Auth{version: version, client: oauthflow.NewClient()}
}

// Info implements sdk.Auth.
func (a *Auth) Info() sdk.Info {
	return sdk.Info{
		Names:       []string{Flow},
		Version:     a.version,
		Description: "OAuth client credentials (machine to machine, no user)",
	}
}

// Begin implements sdk.Auth: the token comes at once, in Started.Token.
func (a *Auth) Begin(ctx context.Context, g sdk.Grant) (sdk.Started, error) {
	t, err := a.mint(ctx, g)
	if err != nil {
		return sdk.Started{}, err
	}
	return sdk.Started{Token: &t, Message: "token obtained with the client's credentials"}, nil
}

// Await implements sdk.Auth; this flow never waits.
func (a *Auth) Await(context.Context, string) (sdk.Token, error) {
	return sdk.Token{}, errors.New("the client credentials flow has nothing to wait for: Begin returns the token")
}

// Refresh implements sdk.Auth by minting a new token; client credentials
// come without refresh tokens (RFC 6749 §4.4.3).
func (a *Auth) Refresh(ctx context.Context, g sdk.Grant, _ string) (sdk.Token, error) {
	return a.mint(ctx, g)
}

func (a *Auth) mint(ctx context.Context, g sdk.Grant) (sdk.Token, error) {
	if _, err := oauthflow.Endpoint("token endpoint", g.Endpoints.TokenURL); err != nil {
		return sdk.Token{}, err
	}
	if g.Client.ClientID == "" || (g.Client.ClientSecret == "" && g.Client.AuthMethod != oauthflow.PrivateKeyJWT) {
		return sdk.Token{}, errors.New("the client credentials flow needs client_id, and client_secret or a private key (private_key_jwt), in the server's oauth settings")
	}
	params := url.Values{}
	for k, v := range g.ExtraTokenParams {
		params.Set(k, v)
	}
	if g.Resource != "" {
		params.Set("resource", g.Resource)
	}
	if err := oauthflow.ClientAssertion(params, g); err != nil {
		return sdk.Token{}, err
	}
	cfg := clientcredentials.Config{
		ClientID:       g.Client.ClientID,
		ClientSecret:   g.Client.ClientSecret,
		TokenURL:       g.Endpoints.TokenURL,
		Scopes:         g.Scopes,
		EndpointParams: params,
		// Set, not probed: see oauthflow.Config.
		AuthStyle: oauthflow.AuthStyle(g.Client),
	}
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = oauthflow.DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client, err := dpop.Client(a.client, g.DPoPKey)
	if err != nil {
		return sdk.Token{}, err
	}
	t, err := cfg.Token(oauthflow.Context(ctx, client))
	if err != nil {
		return sdk.Token{}, fmt.Errorf("client credentials at %s: %w", g.Endpoints.TokenURL, oauthflow.Describe(err))
	}
	return oauthflow.FromOAuth2(t, g.Scopes), nil
}
