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

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/dpop"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/internal/oauthflow"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// Flow is the enterprise-managed login: a user's ID token, exchanged.
const Flow = "identity_assertion"

// WorkloadFlow is workload identity federation (SEP-1933): no user; the
// workload's own JWT, issued by its platform (a Kubernetes service
// account token, a cloud's identity token), is the grant itself.
const WorkloadFlow = "workload_identity"

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
	// The workload's JWT (workload_identity), from the same kinds of
	// place.
	Assertion        string   `json:"assertion"`
	AssertionFile    string   `json:"assertion_file"`
	AssertionCommand []string `json:"assertion_command"`
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
		Names:       []string{Flow, WorkloadFlow},
		Version:     a.version,
		Description: "logins by assertion: the company's identity provider vouches for the user (ID token → ID-JAG → access token), or the workload's platform for the workload (its JWT → access token)",
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
	return oauthflow.Refresh(ctx, a.client, g, refreshToken)
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
	if g.Flow == WorkloadFlow {
		return a.workload(ctx, g, o)
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
	idToken, err := secretFrom(ctx, "the user's ID token", "id_token", o.IDToken, o.IDTokenFile, o.IDTokenCommand)
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
	return a.bearer(ctx, g, jag.AccessToken)
}

// workload is workload identity federation: the workload's JWT is the JWT
// bearer grant, sent once; a refusal is reported, not retried with
// another grant (SEP-1933).
func (a *Auth) workload(ctx context.Context, g sdk.Grant, o Options) (sdk.Token, error) {
	if _, err := oauthflow.Endpoint("token endpoint", g.Endpoints.TokenURL); err != nil {
		return sdk.Token{}, err
	}
	ctx, cancel := a.bound(ctx, g)
	defer cancel()
	jwt, err := secretFrom(ctx, "the workload's JWT", "assertion", o.Assertion, o.AssertionFile, o.AssertionCommand)
	if err != nil {
		return sdk.Token{}, err
	}
	return a.bearer(ctx, g, jwt)
}

// bearer trades an assertion for an access token at the authorization
// server (RFC 7523 §2.1), authenticating as g.Client.
func (a *Auth) bearer(ctx context.Context, g sdk.Grant, assertion string) (sdk.Token, error) {
	bearer := url.Values{"grant_type": {grantJWTBearer}, "assertion": {assertion}}
	if g.Resource != "" {
		bearer.Set("resource", g.Resource)
	}
	for k, v := range g.ExtraTokenParams {
		bearer.Set(k, v)
	}
	if err := oauthflow.ClientAssertion(bearer, g); err != nil {
		return sdk.Token{}, err
	}
	client, err := dpop.Client(a.client, g.DPoPKey)
	if err != nil {
		return sdk.Token{}, err
	}
	ctx = oauthflow.Context(ctx, client)
	t, err := (&clientcredentials.Config{
		ClientID: g.Client.ClientID, ClientSecret: g.Client.ClientSecret, TokenURL: g.Endpoints.TokenURL,
		Scopes: g.Scopes, EndpointParams: bearer, AuthStyle: oauthflow.AuthStyle(g.Client),
	}).Token(ctx)
	if err != nil {
		return sdk.Token{}, fmt.Errorf("JWT bearer grant at %s: %w", g.Endpoints.TokenURL, oauthflow.Describe(err))
	}
	return oauthflow.FromOAuth2(t, g.Scopes), nil
}

// secretFrom is a token given as it is, read from a file, or printed by
// a command run without a shell (each time: a platform's tokens are
// short-lived); key names the options, what says what the token is.
func secretFrom(ctx context.Context, what, key, value, file string, command []string) (string, error) {
	var tok string
	switch {
	case len(command) > 0:
		out, err := exec.CommandContext(ctx, command[0], command[1:]...).Output()
		if err != nil {
			return "", fmt.Errorf("%s_command %s: %w", key, command[0], err)
		}
		tok = string(out)
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s_file: %w", key, err)
		}
		tok = string(data)
	default:
		tok = value
	}
	if tok = strings.TrimSpace(tok); tok == "" {
		return "", fmt.Errorf(`the flow needs %s: "options": {%q: "${VAR}"}, {"%s_file": ...} or {"%s_command": [...]}`, what, key, key, key)
	}
	return tok, nil
}
