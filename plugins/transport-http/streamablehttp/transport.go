package streamablehttp

import (
	"context"
	"net/http"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/dpop"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/internal/remote"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// Transport opens streamable HTTP sessions. Its sessions share one HTTP
// client, so they share connections to the same host.
type Transport struct {
	version string
	client  *http.Client
}

// New returns the transport; version is reported by Info.
func New(version string) *Transport {
	return &Transport{version: version, client: remote.NewClient()}
}

// Info implements sdk.Transport.
func (t *Transport) Info() sdk.Info {
	return sdk.Info{
		Names:       []string{"http"},
		Version:     t.version,
		Description: "remote MCP servers over streamable HTTP",
	}
}

// Open implements sdk.Transport. Nothing goes over the network until the
// first message: the initialize POST is what opens an HTTP session.
func (t *Transport) Open(_ context.Context, spec sdk.SessionSpec, peer sdk.Peer) (sdk.Session, error) {
	u, header, err := remote.Target(spec)
	if err != nil {
		return nil, err
	}
	client, err := dpop.Client(t.client, spec.DPoPKey)
	if err != nil {
		return nil, err
	}
	return newSession(client, u, header, peer), nil
}
