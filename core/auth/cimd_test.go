package auth

import (
	"encoding/json"
	"net/url"
	"os"
	"slices"
	"testing"
)

// The client ID metadata document the repository ships is the one the
// proxy names by default, and it describes the client the flows act as: a
// public native client whose redirect is the PKCE plugin's loopback one
// (any port, RFC 8252), with the grants the bundled flows use.
func TestShippedMetadataDocument(t *testing.T) {
	data, err := os.ReadFile("../../docs/client-metadata.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ClientID                string   `json:"client_id"`
		ClientName              string   `json:"client_name"`
		ApplicationType         string   `json:"application_type"`
		RedirectURIs            []string `json:"redirect_uris"`
		GrantTypes              []string `json:"grant_types"`
		ResponseTypes           []string `json:"response_types"`
		TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.ClientID != DefaultClientMetadataURL {
		t.Fatalf("client_id %q: a metadata document must be served at its own client_id, %s", doc.ClientID, DefaultClientMetadataURL)
	}
	if u, err := metadataDocument(Settings{ClientMetadataURL: doc.ClientID}); err != nil || u != doc.ClientID {
		t.Fatalf("the default document is refused by the proxy's own check: %v", err)
	}
	if doc.ApplicationType != "native" || doc.TokenEndpointAuthMethod != "none" || doc.ClientName == "" {
		t.Fatalf("not a public native client: %+v", doc)
	}
	for _, g := range []string{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"} {
		if !slices.Contains(doc.GrantTypes, g) {
			t.Errorf("grant_types lacks %s", g)
		}
	}
	if !slices.Equal(doc.ResponseTypes, []string{"code"}) {
		t.Errorf("response_types %q", doc.ResponseTypes)
	}
	// The PKCE plugin's redirect without a configured one.
	if !slices.Contains(doc.RedirectURIs, "http://127.0.0.1/callback") {
		t.Errorf("redirect_uris %q lack the PKCE plugin's http://127.0.0.1/callback", doc.RedirectURIs)
	}
	for _, r := range doc.RedirectURIs {
		u, err := url.Parse(r)
		if err != nil || u.Scheme != "http" || u.Port() != "" || u.Path != "/callback" {
			t.Errorf("redirect %q: a loopback redirect without a port, at /callback", r)
		}
	}
}
