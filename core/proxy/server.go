package proxy

import (
	"context"
	"encoding/json"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
)

// Server is one configured upstream as the core uses it: an
// *upstream.Upstream of the core's own, or a view on one that the hub
// shares between the cores of its sessions (Options.Share).
type Server interface {
	State() upstream.State
	Start(call upstream.Call) (cancel func(error))
	Request(ctx context.Context, method string, params json.RawMessage) (upstream.Reply, error)
	Tools(ctx context.Context) ([]json.RawMessage, error)
	List(ctx context.Context, k upstream.Kind) ([]json.RawMessage, error)
	FreshTools() ([]json.RawMessage, bool)
	InvalidateTools()
	ServerCapabilities() *mcp.ServerCapabilities
	Challenge() string
	Tried() <-chan struct{}
	Remote() bool
	Recycle()
	Live() bool
	NotifyLive(method string, params json.RawMessage)
	Close()
}

// ShareFunc gives the core a configured server's upstream, shared with
// other cores where that is safe; hooks are this core's.
type ShareFunc func(entry SharedEntry, spec upstream.Spec, hooks upstream.Hooks) Server

// SharedEntry is what a ShareFunc is told of the entry besides its spec.
type SharedEntry struct {
	// Name is what this core calls the server.
	Name string
	// Fingerprint is the entry's (config.Server.Fingerprint).
	Fingerprint string
	// MaxInstances is the most instances of a legacy server the sessions
	// may lease at once ("max_instances"); 0 for the hub's default.
	MaxInstances int
}

var _ Server = (*upstream.Upstream)(nil)
