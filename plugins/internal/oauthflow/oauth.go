package oauthflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/dpop"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// DefaultTimeout bounds one request to the authorization server when the
// grant names no timeout.
const DefaultTimeout = 30 * time.Second

// NewClient is the HTTP client for token endpoints: it follows no
// redirect, so client secrets and codes go only where the metadata said.
func NewClient() *http.Client {
	return &http.Client{
		Timeout: DefaultTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return errors.New("the authorization server answered with a redirect; refused")
		},
	}
}

// Context carries client for x/oauth2's requests.
func Context(ctx context.Context, client *http.Client) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, client)
}

// Describe keeps what an OAuth error says and drops the response body,
// which a hostile server could fill with anything.
func Describe(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		msg := re.ErrorCode
		if re.ErrorDescription != "" {
			msg += ": " + re.ErrorDescription
		}
		if msg == "" && re.Response != nil {
			msg = re.Response.Status
		}
		return errors.New(msg)
	}
	return err
}

// FromOAuth2 converts x/oauth2's token; the scopes are those granted when
// the server says, else those requested.
func FromOAuth2(t *oauth2.Token, requested []string) sdk.Token {
	out := sdk.Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.Type(), Expiry: t.Expiry, Scopes: requested}
	if s, ok := t.Extra("scope").(string); ok && s != "" {
		out.Scopes = strings.Fields(s)
	}
	return out
}

// Config is x/oauth2's configuration for a grant. The client
// authentication is set, not probed: x/oauth2's probe sends a failed token
// request again at once in the other style, which for a device flow is a
// poll faster than the server's interval.
func Config(g sdk.Grant) *oauth2.Config {
	style := AuthStyle(g.Client)
	return &oauth2.Config{
		ClientID:     g.Client.ClientID,
		ClientSecret: g.Client.ClientSecret,
		RedirectURL:  g.Client.RedirectURI,
		Scopes:       g.Scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:       g.Endpoints.AuthorizationURL,
			TokenURL:      g.Endpoints.TokenURL,
			DeviceAuthURL: g.Endpoints.DeviceAuthorizationURL,
			AuthStyle:     style,
		},
	}
}

// AuthStyle is how the client authenticates at the token endpoint: as
// registered (RFC 7591), else HTTP Basic with a secret, and its id in the
// form without one (a public client).
func AuthStyle(c sdk.Client) oauth2.AuthStyle {
	switch c.AuthMethod {
	case "client_secret_post", "none", PrivateKeyJWT:
		return oauth2.AuthStyleInParams
	case "client_secret_basic":
		return oauth2.AuthStyleInHeader
	}
	if c.ClientSecret == "" {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

// Params are the resource indicator and the extra parameters, as x/oauth2
// options.
func Params(resource string, extra map[string]string) []oauth2.AuthCodeOption {
	var opts []oauth2.AuthCodeOption
	for k, v := range extra {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	if resource != "" {
		opts = append(opts, oauth2.SetAuthURLParam("resource", resource))
	}
	return opts
}

// Refresh runs the refresh token grant (RFC 6749 §6) with the resource
// indicator (RFC 8707 §2.2) and the extra token parameters. It is written
// here because x/oauth2's token sources send no extra parameters on
// refresh.
func Refresh(ctx context.Context, client *http.Client, g sdk.Grant, refreshToken string) (sdk.Token, error) {
	if refreshToken == "" {
		return sdk.Token{}, errors.New("no refresh token: log in again")
	}
	if _, err := Endpoint("token endpoint", g.Endpoints.TokenURL); err != nil {
		return sdk.Token{}, err
	}
	client, err := dpop.Client(client, g.DPoPKey)
	if err != nil {
		return sdk.Token{}, err
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	for k, v := range g.ExtraTokenParams {
		form.Set(k, v)
	}
	if g.Resource != "" {
		form.Set("resource", g.Resource)
	}
	basic := AuthStyle(g.Client) == oauth2.AuthStyleInHeader
	if !basic {
		form.Set("client_id", g.Client.ClientID)
		if g.Client.ClientSecret != "" {
			form.Set("client_secret", g.Client.ClientSecret)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.Endpoints.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return sdk.Token{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if basic {
		req.SetBasicAuth(url.QueryEscape(g.Client.ClientID), url.QueryEscape(g.Client.ClientSecret))
	}
	resp, err := client.Do(req)
	if err != nil {
		return sdk.Token{}, fmt.Errorf("refresh at %s: %w", g.Endpoints.TokenURL, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return sdk.Token{}, fmt.Errorf("refresh at %s: %w", g.Endpoints.TokenURL, err)
	}
	var tr struct {
		AccessToken      string `json:"access_token"`
		RefreshToken     string `json:"refresh_token"`
		TokenType        string `json:"token_type"`
		ExpiresIn        int64  `json:"expires_in"`
		Scope            string `json:"scope"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "application/json" || json.Unmarshal(body, &tr) != nil {
		return sdk.Token{}, fmt.Errorf("refresh at %s: %s with a body that is not JSON", g.Endpoints.TokenURL, resp.Status)
	}
	if resp.StatusCode/100 != 2 || tr.Error != "" || tr.AccessToken == "" {
		msg := tr.Error
		if tr.ErrorDescription != "" {
			msg += ": " + tr.ErrorDescription
		}
		if msg == "" {
			msg = resp.Status + " without an access token"
		}
		return sdk.Token{}, fmt.Errorf("refresh at %s: %s", g.Endpoints.TokenURL, msg)
	}
	t := sdk.Token{AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken, TokenType: tr.TokenType, Scopes: g.Scopes}
	if t.RefreshToken == "" {
		t.RefreshToken = refreshToken // the server kept it (no rotation)
	}
	if tr.ExpiresIn > 0 {
		t.Expiry = time.Now().Add(time.Duration(tr.ExpiresIn) * time.Second).UTC()
	}
	if tr.Scope != "" {
		t.Scopes = strings.Fields(tr.Scope)
	}
	return t, nil
}
