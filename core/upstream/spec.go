package upstream

import (
	"context"
	"encoding/json"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// What an Upstream is made from: its Spec, the Opener of transport
// plugins, and the Hooks through which it tells the proxy what happens.

// Opener gives a client for the transport plugin providing a name, and the
// plugin's file name for error messages. pluginhost.Host implements it.
type Opener interface {
	Transport(ctx context.Context, name string) (sdk.TransportClient, string, error)
}

// Spec is everything needed to run one upstream.
type Spec struct {
	// Transport is the transport name ("stdio", ...).
	Transport string
	// Session is passed to the plugin.
	Session sdk.SessionSpec
	// RequestTimeout bounds each request; 0 means none.
	RequestTimeout time.Duration
	// Pooled keeps the session between operations; otherwise each
	// operation opens and closes its own.
	Pooled bool
	// IdleTTL closes a pooled session unused for that long; 0: never.
	IdleTTL time.Duration
	// ToolCacheTTL is how long a tools/list answer is reused.
	ToolCacheTTL time.Duration
	// CloseGrace is how long the upstream may take to exit on close.
	CloseGrace time.Duration
	// Fallback is the transport to try when the server says it does not
	// speak Transport ("sse" after "http"); "" for none. Whichever works
	// is remembered in Memo, and tried first next time.
	Fallback string
	Memo     TransportMemo
	// Revisions remembers, under RevisionKey, which ways the server was
	// found to speak (stateless, initialize), so that a handshake tries
	// only what works; nil: every start finds out again.
	Revisions   RevisionMemo
	RevisionKey string
	// Redact removes the entry's secrets from a failure's message before
	// it is kept (State.Error) or logged; nil keeps it as it is.
	Redact func(string) string
	// ClientInfo is what the proxy tells the server about itself;
	// DefaultClientInfo when its name is empty.
	ClientInfo mcp.Implementation
}

// RevisionMemo remembers what a server was found to speak: for the
// stateless revision and for the initialize ones, each Yes, No or ""
// (not tried).
type RevisionMemo interface {
	Speaks(key string) (stateless, initialize string)
	SetSpeaks(key, stateless, initialize string) error
}

// What a RevisionMemo knows of one way of speaking.
const (
	Yes = "yes"
	No  = "no"
)

// TransportMemo remembers which transport a server URL speaks.
type TransportMemo interface {
	Get(url string) string
	Set(url, transport string) error
}

// Hooks tell the proxy what happens upstream.
type Hooks struct {
	// Notification receives every notification the upstream sends.
	Notification func(server, method string, params, msg json.RawMessage)
	// ListChanged is called when the upstream says one of its lists
	// changed (its cached copy is dropped first). A resources change
	// names both KindResources and KindResourceTemplates.
	ListChanged func(server string, kind Kind)
	// Request receives the upstream's own requests (sampling, elicitation,
	// roots/list); see RequestFunc. Without it they are refused.
	Request RequestFunc
	// Capabilities is what the proxy declares to the upstream at
	// initialize: what its own client can do.
	Capabilities func() mcp.ClientCapabilities
	// ClientRevision is how the proxy's client speaks (RevisionStateless
	// or RevisionInitialize; "" when not known yet). A server that speaks
	// it too is spoken to in it, so nothing is bridged that need not be.
	ClientRevision func() string
	// LogLevel is the lowest level of log messages the proxy's client
	// wants ("" for none set): a stateless upstream is told it in each
	// request, which the client did not already say it in.
	LogLevel func() string
	// Connected is called each time a session opens, with what the
	// upstream said at initialize.
	Connected func(server string, init *mcp.InitializeResult)
	// Credentials gives what a new remote session presents: its
	// Authorization header value ("" for none) and, for a DPoP-bound
	// token, the key its proofs are signed with. refused, when set, is
	// the server refusing what was presented last: a new token is wanted.
	Credentials func(ctx context.Context, server string, refused *Refusal) (Credentials, error)
	// Took is called when a session opened with the credentials given
	// (an Authorization header): the server took them.
	Took func(ctx context.Context, server string, sent Credentials)
}

// Refusal is a server refusing the credentials a session presented.
type Refusal struct {
	// Challenge is the WWW-Authenticate value of its 401.
	Challenge string
	// Sent is what was presented.
	Sent Credentials
}

// Credentials are what a remote session presents to its server.
type Credentials struct {
	Authorization string
	// DPoPKey (PEM), when set, signs a proof for every HTTP request
	// (RFC 9449): the token is bound to it.
	DPoPKey string
	// Withheld, with no Authorization, says why the login's token is not
	// presented: the server's 401 then says so.
	Withheld string
}

// RequestFunc handles a request an upstream sent: id and params are raw
// JSON. reply must be called exactly once, with the raw result or the raw
// JSON-RPC error object.
type RequestFunc func(server, method string, id, params json.RawMessage, reply func(result, rpcErr json.RawMessage))
