// Package enterprise runs the enterprise-managed login of MCP's
// extension (SEP-990, the identity assertion authorization grant): the
// company's identity provider vouches for the user, and no browser is
// involved. An ID token the user already holds from the company's
// single sign-on is exchanged at the identity provider for an identity
// assertion JWT authorization grant (ID-JAG, RFC 8693 token exchange),
// which the MCP server's authorization server takes as a JWT bearer grant
// (RFC 7523 §2.1) for an access token.
//
// Both requests go through golang.org/x/oauth2's client credentials
// configuration with the grant type replaced, which x/oauth2 allows for
// such grants; the ID token comes from the server's options: as it is, from
// a file, or printed by a command (a company SSO tool).
package enterprise

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/internal/oauthflow"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// Flow is the flow name this plugin provides.
const Flow = "identity_assertion"

// The grant and token types of the two requests.
const (
	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	grantJWTBearer     = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	typeIDToken        = "urn:ietf:params:oauth:token-type:id_token"
	typeIDJAG          = "urn:ietf:params:oauth:token-type:id-jag"
)

// Options are the server's "oauth.options" for this flow.
type Options struct {
	// IdPTokenURL is the identity provider's token endpoint, where the ID
	// token is exchanged for the grant.
	IdPTokenURL string `json:"idp_token_url"`
	// IdPClientID and IdPClientSecret are the proxy's client at the
	// identity provider (the secret only for a confidential client).
	IdPClientID     string `json:"idp_client_id"`
	IdPClientSecret string `json:"idp_client_secret"`
	// The user's ID token: as it is (IDToken, usually "${VAR}"), from a
	// file (IDTokenFile), or printed on stdout by a command run without a
	// shell (IDTokenCommand, each time a token is minted).
	IDToken        string   `json:"id_token"`
	IDTokenFile    string   `json:"id_token_file"`
	IDTokenCommand []string `json:"id_token_command"`
}

// Auth mints tokens from the user's identity at the company's provider.
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
		Description: "enterprise-managed login: the company's identity provider vouches for the user (ID token → ID-JAG → access token)",
	}
}

// Begin implements sdk.Auth: the token comes at once, in Started.Token.
func (a *Auth) Begin(ctx context.Context, g sdk.Grant) (sdk.Started, error) {
	t, err := a.mint(ctx, g)
	if err != nil {
		return sdk.Started{}, err
	}
	return sdk.Started{Token: &t, Message: "token obtained with the identity provider's assertion"}, nil
}

// Await implements sdk.Auth; this flow never waits.
func (a *Auth) Await(context.Context, string) (sdk.Token, error) {
	return sdk.Token{}, errors.New("the identity assertion flow has nothing to wait for: Begin returns the token")
}

// Refresh implements sdk.Auth: with a refresh token, as usual; without
// one, by minting again from a current ID token.
func (a *Auth) Refresh(ctx context.Context, g sdk.Grant, refreshToken string) (sdk.Token, error) {
	if refreshToken == "" {
		return a.mint(ctx, g)
	}
	cfg := oauthflow.Config(g)
	ctx, cancel := a.bound(ctx, g)
	defer cancel()
	t, err := cfg.TokenSource(oauthflow.Context(ctx, a.client), &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return sdk.Token{}, fmt.Errorf("refresh at %s: %w", g.Endpoints.TokenURL, oauthflow.Describe(err))
	}
	return oauthflow.FromOAuth2(t, g.Scopes), nil
}

func (a *Auth) bound(ctx context.Context, g sdk.Grant) (context.Context, context.CancelFunc) {
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = oauthflow.DefaultTimeout
	}
	return context.WithTimeout(ctx, timeout)
}

func (a *Auth) mint(ctx context.Context, g sdk.Grant) (sdk.Token, error) {
	var o Options
	if len(g.Options) > 0 {
		if err := json.Unmarshal(g.Options, &o); err != nil {
			return sdk.Token{}, fmt.Errorf("options: %w", err)
		}
	}
	if _, err := oauthflow.Endpoint("idp_token_url", o.IdPTokenURL); err != nil {
		return sdk.Token{}, fmt.Errorf(`the identity assertion flow needs "options": {"idp_token_url": ...}: %w`, err)
	}
	if _, err := oauthflow.Endpoint("token endpoint", g.Endpoints.TokenURL); err != nil {
		return sdk.Token{}, err
	}
	if o.IdPClientID == "" || g.Client.ClientID == "" {
		return sdk.Token{}, errors.New(`the identity assertion flow needs "client_id" (the MCP server's client) and "options": {"idp_client_id": ...} (the identity provider's)`)
	}
	ctx, cancel := a.bound(ctx, g)
	defer cancel()
	ctx = oauthflow.Context(ctx, a.client)
	idToken, err := o.idToken(ctx)
	if err != nil {
		return sdk.Token{}, err
	}

	// 1. At the identity provider: the ID token for an ID-JAG meant for
	// the MCP server's authorization server and the MCP server.
	exchange := url.Values{
		"grant_type": {grantTokenExchange}, "subject_token": {idToken}, "subject_token_type": {typeIDToken},
		"requested_token_type": {typeIDJAG}, "audience": {g.Endpoints.Issuer}, "resource": {g.Resource},
	}
	idpStyle := oauth2.AuthStyleInHeader
	if o.IdPClientSecret == "" {
		idpStyle = oauth2.AuthStyleInParams
	}
	jag, err := (&clientcredentials.Config{
		ClientID: o.IdPClientID, ClientSecret: o.IdPClientSecret, TokenURL: o.IdPTokenURL,
		Scopes: g.Scopes, EndpointParams: exchange, AuthStyle: idpStyle,
	}).Token(ctx)
	if err != nil {
		return sdk.Token{}, fmt.Errorf("token exchange at the identity provider %s: %w", o.IdPTokenURL, oauthflow.Describe(err))
	}
	if issued, _ := jag.Extra("issued_token_type").(string); issued != typeIDJAG {
		return sdk.Token{}, fmt.Errorf("the identity provider %s issued a %q, not an identity assertion grant (%s)", o.IdPTokenURL, issued, typeIDJAG)
	}

	// 2. At the MCP server's authorization server: the ID-JAG for an
	// access token, with the MCP client's own credentials.
	bearer := url.Values{"grant_type": {grantJWTBearer}, "assertion": {jag.AccessToken}}
	if g.Resource != "" {
		bearer.Set("resource", g.Resource)
	}
	for k, v := range g.ExtraTokenParams {
		bearer.Set(k, v)
	}
	if err := oauthflow.ClientAssertion(bearer, g); err != nil {
		return sdk.Token{}, err
	}
	t, err := (&clientcredentials.Config{
		ClientID: g.Client.ClientID, ClientSecret: g.Client.ClientSecret, TokenURL: g.Endpoints.TokenURL,
		Scopes: g.Scopes, EndpointParams: bearer, AuthStyle: oauthflow.AuthStyle(g.Client),
	}).Token(ctx)
	if err != nil {
		return sdk.Token{}, fmt.Errorf("JWT bearer grant at %s: %w", g.Endpoints.TokenURL, oauthflow.Describe(err))
	}
	return oauthflow.FromOAuth2(t, g.Scopes), nil
}

// idToken is the user's ID token from wherever the options say.
func (o Options) idToken(ctx context.Context) (string, error) {
	var tok string
	switch {
	case len(o.IDTokenCommand) > 0:
		out, err := exec.CommandContext(ctx, o.IDTokenCommand[0], o.IDTokenCommand[1:]...).Output()
		if err != nil {
			return "", fmt.Errorf("id_token_command %s: %w", o.IDTokenCommand[0], err)
		}
		tok = string(out)
	case o.IDTokenFile != "":
		data, err := os.ReadFile(o.IDTokenFile)
		if err != nil {
			return "", fmt.Errorf("id_token_file: %w", err)
		}
		tok = string(data)
	default:
		tok = o.IDToken
	}
	if tok = strings.TrimSpace(tok); tok == "" {
		return "", errors.New(`the identity assertion flow needs the user's ID token: "options": {"id_token": "${VAR}"}, {"id_token_file": ...} or {"id_token_command": [...]}`)
	}
	return tok, nil
}
