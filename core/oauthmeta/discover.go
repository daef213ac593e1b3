package oauthmeta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// ProtectedResource is RFC 9728 protected resource metadata.
type ProtectedResource struct {
	Resource             string   `json:"resource"`
	AuthorizationServers []string `json:"authorization_servers"`
	ScopesSupported      []string `json:"scopes_supported,omitempty"`
	// DPoPSigningAlgValuesSupported: the resource takes DPoP-bound
	// tokens, with proofs signed with these (RFC 9728 §2).
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`
	// DPoPBoundAccessTokensRequired: the resource takes no other kind.
	DPoPBoundAccessTokensRequired bool `json:"dpop_bound_access_tokens_required,omitempty"`
}

// AuthServer is RFC 8414 authorization server metadata (the members the
// proxy uses).
type AuthServer struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint,omitempty"`
	TokenEndpoint                     string   `json:"token_endpoint,omitempty"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint,omitempty"`
	RegistrationEndpoint              string   `json:"registration_endpoint,omitempty"`
	RevocationEndpoint                string   `json:"revocation_endpoint,omitempty"`
	ScopesSupported                   []string `json:"scopes_supported,omitempty"`
	GrantTypesSupported               []string `json:"grant_types_supported,omitempty"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported,omitempty"`
	AuthorizationResponseIssParameter bool     `json:"authorization_response_iss_parameter_supported,omitempty"`
	// ClientIDMetadataDocumentSupported: the server accepts an https URL
	// as client_id and reads the client's metadata from it.
	ClientIDMetadataDocumentSupported bool `json:"client_id_metadata_document_supported,omitempty"`
	// DPoPSigningAlgValuesSupported: the server binds tokens to a key
	// (RFC 9449) when the token request proves one, signed with these.
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`
}

// SupportsS256 reports whether the server offers PKCE with S256, without
// which the proxy refuses the authorization code flow.
func (s AuthServer) SupportsS256() bool {
	return slices.Contains(s.CodeChallengeMethodsSupported, "S256")
}

// Found is what discovery found for one MCP server.
type Found struct {
	// Resource is sent as the resource indicator (RFC 8707): the
	// identifier the protected resource metadata publishes, else the
	// canonical URL of the MCP server.
	Resource string
	Server   AuthServer
	// Scopes are those the challenge asked for, else those the resource
	// metadata lists.
	Scopes []string
	// Metadata is the server's protected resource metadata; nil when it
	// publishes none.
	Metadata *ProtectedResource
}

// maxMetadataBytes bounds a metadata document.
const maxMetadataBytes = 1 << 20

// Discoverer fetches metadata with the guard in place.
type Discoverer struct {
	// Timeout bounds each request; 0 means 15 seconds.
	Timeout time.Duration
}

// Discover finds the authorization server of the MCP server at serverURL,
// from the WWW-Authenticate value of its 401 (which may be empty).
func (d Discoverer) Discover(ctx context.Context, serverURL, wwwAuthenticate string) (Found, error) {
	su, err := url.Parse(serverURL)
	if err != nil || su.Host == "" {
		return Found{}, fmt.Errorf("server URL %q is not a URL", serverURL)
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	client := guardedClient(hostClass(ctx, su.Hostname()), timeout)
	found := Found{Resource: CanonicalResource(su)}
	ch := ParseChallenge(wwwAuthenticate)

	prm, err := d.protectedResource(ctx, client, su, ch.ResourceMetadata)
	if err != nil {
		return Found{}, err
	}
	issuer := su.Scheme + "://" + su.Host // the 2025-03-26 fallback: the server's origin
	if prm != nil {
		if len(prm.AuthorizationServers) == 0 {
			return Found{}, errors.New("the server's protected resource metadata lists no authorization server")
		}
		issuer = prm.AuthorizationServers[0]
		found.Metadata = prm
		found.Scopes = prm.ScopesSupported
		if prm.Resource != "" {
			// The resource indicator is the identifier the metadata
			// publishes, exactly as written (it covers the server's URL,
			// checked above): a pathless one gains no "/".
			found.Resource = prm.Resource
		}
	}
	if ch.Scope != "" {
		found.Scopes = strings.Fields(ch.Scope)
	}
	as, err := d.authServer(ctx, client, issuer)
	if err != nil {
		return Found{}, err
	}
	found.Server = as
	return found, nil
}

// protectedResource fetches RFC 9728 metadata: from the challenge's URL,
// else from the well-known locations; nil when the server has none.
func (d Discoverer) protectedResource(ctx context.Context, client *http.Client, su *url.URL, fromChallenge string) (*ProtectedResource, error) {
	var candidates []string
	if fromChallenge != "" {
		if _, err := CheckEndpoint("resource_metadata", fromChallenge); err != nil {
			return nil, err
		}
		candidates = []string{fromChallenge}
	} else {
		origin := su.Scheme + "://" + su.Host
		if p := strings.TrimSuffix(su.EscapedPath(), "/"); p != "" {
			candidates = append(candidates, origin+"/.well-known/oauth-protected-resource"+p)
		}
		candidates = append(candidates, origin+"/.well-known/oauth-protected-resource")
	}
	for _, c := range candidates {
		var prm ProtectedResource
		ok, err := fetchJSON(ctx, client, c, &prm)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if !resourceCovers(prm.Resource, su) {
			return nil, fmt.Errorf("protected resource metadata at %s is for %q, not for %s; refused", c, prm.Resource, CanonicalResource(su))
		}
		return &prm, nil
	}
	if fromChallenge != "" {
		return nil, fmt.Errorf("the server's resource_metadata %s could not be read", fromChallenge)
	}
	return nil, nil
}

// authServer fetches RFC 8414 metadata, then OpenID discovery, and checks
// the issuer is the one asked for.
func (d Discoverer) authServer(ctx context.Context, client *http.Client, issuer string) (AuthServer, error) {
	iu, err := CheckEndpoint("authorization server", issuer)
	if err != nil {
		return AuthServer{}, err
	}
	origin := iu.Scheme + "://" + iu.Host
	path := strings.TrimSuffix(iu.EscapedPath(), "/")
	candidates := []string{origin + "/.well-known/oauth-authorization-server" + path}
	if path != "" {
		candidates = append(candidates, origin+"/.well-known/openid-configuration"+path, origin+path+"/.well-known/openid-configuration")
	} else {
		candidates = append(candidates, origin+"/.well-known/openid-configuration")
	}
	for _, c := range candidates {
		var as AuthServer
		ok, err := fetchJSON(ctx, client, c, &as)
		if err != nil {
			return AuthServer{}, err
		}
		if !ok {
			continue
		}
		if strings.TrimSuffix(as.Issuer, "/") != strings.TrimSuffix(issuer, "/") {
			return AuthServer{}, fmt.Errorf("authorization server metadata at %s names issuer %q, not %q; refused", c, as.Issuer, issuer)
		}
		for what, u := range map[string]string{
			"authorization_endpoint": as.AuthorizationEndpoint, "token_endpoint": as.TokenEndpoint,
			"device_authorization_endpoint": as.DeviceAuthorizationEndpoint, "registration_endpoint": as.RegistrationEndpoint,
			"revocation_endpoint": as.RevocationEndpoint,
		} {
			if u == "" {
				continue
			}
			if _, err := CheckEndpoint(what, u); err != nil {
				return AuthServer{}, fmt.Errorf("authorization server %s: %w", issuer, err)
			}
		}
		return as, nil
	}
	return AuthServer{}, fmt.Errorf("authorization server %s publishes no metadata (RFC 8414 or OpenID discovery); set the endpoints in the server's \"oauth\" settings", issuer)
}

// fetchJSON GETs a metadata document; ok is false for a 404 (try the next
// location), an error for anything else that is not a JSON object.
func fetchJSON(ctx context.Context, client *http.Client, u string, v any) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return false, fmt.Errorf("metadata %s: %w", u, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode == http.StatusNotFound {
		return false, nil
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("metadata %s: %s", u, resp.Status)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return false, fmt.Errorf("metadata %s is %q, not JSON", u, mt)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes+1))
	if err != nil {
		return false, fmt.Errorf("metadata %s: %w", u, err)
	}
	if len(body) > maxMetadataBytes {
		return false, fmt.Errorf("metadata %s is larger than %d bytes", u, maxMetadataBytes)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return false, fmt.Errorf("metadata %s: %w", u, err)
	}
	return true, nil
}

// CanonicalResource is the server's URL as a resource indicator: scheme
// and host in lower case, no fragment, no query, no trailing slash.
func CanonicalResource(u *url.URL) string {
	c := url.URL{Scheme: strings.ToLower(u.Scheme), Host: strings.ToLower(u.Host), Path: strings.TrimSuffix(u.Path, "/")}
	return c.String()
}

// Covers reports whether a token minted for resource may be sent to the
// server at serverURL: the same canonical URL, or a path prefix of it.
func Covers(resource, serverURL string) bool {
	su, err := url.Parse(serverURL)
	return err == nil && resourceCovers(resource, su)
}

// resourceCovers reports whether the metadata's resource is the server's
// URL or a path prefix of it.
func resourceCovers(resource string, su *url.URL) bool {
	ru, err := url.Parse(resource)
	if err != nil {
		return false
	}
	r, s := CanonicalResource(ru), CanonicalResource(su)
	return r == s || strings.HasPrefix(s, r+"/")
}
