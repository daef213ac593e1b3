package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/tokenstore"
)

// registrationRequest is RFC 7591 client metadata for a native client.
type registrationRequest struct {
	ClientName              string   `json:"client_name"`
	ApplicationType         string   `json:"application_type"`
	RedirectURIs            []string `json:"redirect_uris,omitempty"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types,omitempty"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
}

// register registers the proxy as a public native client (RFC 7591),
// asking for the grants the proxy's flows use. It names no scope: a
// registration limited to the first login's scopes would make the server
// refuse a later login asking for more (a step-up), as oidc-provider does.
func register(ctx context.Context, client *http.Client, endpoint, redirectURI string) (tokenstore.Registration, error) {
	req := registrationRequest{
		ClientName:              "ica-mcp-proxy",
		ApplicationType:         "native",
		GrantTypes:              []string{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"},
		ResponseTypes:           []string{"code"},
		TokenEndpointAuthMethod: "none",
	}
	if redirectURI != "" {
		req.RedirectURIs = []string{redirectURI}
	}
	body, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return tokenstore.Registration{}, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	resp, err := client.Do(hr)
	if err != nil {
		return tokenstore.Registration{}, fmt.Errorf("client registration at %s: %w", endpoint, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return tokenstore.Registration{}, fmt.Errorf("client registration at %s: %w", endpoint, err)
	}
	var out struct {
		ClientID         string   `json:"client_id"`
		ClientSecret     string   `json:"client_secret"`
		RedirectURIs     []string `json:"redirect_uris"`
		AuthMethod       string   `json:"token_endpoint_auth_method"`
		Error            string   `json:"error"`
		ErrorDescription string   `json:"error_description"`
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "application/json" || json.Unmarshal(data, &out) != nil {
		return tokenstore.Registration{}, fmt.Errorf("client registration at %s: %s with a body that is not JSON", endpoint, resp.Status)
	}
	if resp.StatusCode/100 != 2 || out.ClientID == "" {
		msg := out.Error
		if out.ErrorDescription != "" {
			msg += ": " + out.ErrorDescription
		}
		if msg == "" {
			msg = resp.Status
		}
		if out.Error == "invalid_redirect_uri" || (out.Error == "invalid_client_metadata" && strings.Contains(strings.ToLower(out.ErrorDescription), "redirect")) {
			// A native client's redirect is a loopback address whose port
			// varies (RFC 8252); some servers accept only web addresses.
			return tokenstore.Registration{}, fmt.Errorf("client registration at %s refused the redirect URI %s (%s): the server does not take the loopback redirect a native client uses; register a client there by hand and set \"client_id\" (and \"redirect_uri\") in the server's \"oauth\" settings", endpoint, redirectURI, msg)
		}
		return tokenstore.Registration{}, errors.New("client registration at " + endpoint + " refused: " + msg)
	}
	return tokenstore.Registration{ClientID: out.ClientID, ClientSecret: out.ClientSecret, RedirectURIs: out.RedirectURIs,
		AuthMethod: out.AuthMethod, RegisteredAt: time.Now().UTC().Truncate(time.Second)}, nil
}
