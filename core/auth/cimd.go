package auth

import (
	"fmt"
	"strings"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/oauthmeta"
)

// DefaultClientMetadataURL is the project's client ID metadata document
// (docs/client-metadata.json in the repository, published as it is): the
// client_id the proxy logs in with where an authorization server accepts
// metadata documents and the server's entry names none of its own.
const DefaultClientMetadataURL = "https://ica-mcp-proxy.github.io/ica-mcp-proxy/client-metadata.json"

// noMetadataDocument, as oauth.client_metadata_url, turns metadata
// documents off for a server: the proxy registers dynamically instead.
const noMetadataDocument = "none"

// metadataDocument is the client ID metadata document to log in with
// under settings s, or "" when s turns them off. A URL given must be https
// (plain http only on loopback, for tests and local servers) with a path,
// as the document's specification asks.
func metadataDocument(s Settings) (string, error) {
	u := strings.TrimSpace(s.ClientMetadataURL)
	switch {
	case u == "":
		return DefaultClientMetadataURL, nil
	case strings.EqualFold(u, noMetadataDocument):
		return "", nil
	}
	pu, err := oauthmeta.CheckEndpoint("client_metadata_url", u)
	if err != nil {
		return "", err
	}
	if strings.Trim(pu.Path, "/") == "" || pu.Fragment != "" || pu.User != nil {
		return "", fmt.Errorf("client_metadata_url %q must name a document: a URL with a path, without a fragment or credentials", u)
	}
	return u, nil
}
