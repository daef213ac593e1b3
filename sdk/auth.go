package sdk

import (
	"context"
	"fmt"
	"time"
)

// Auth is implemented by an auth plugin: it runs the login flows it names
// in Info (for example "device_code"). It is stateless between flows: the
// host passes everything a flow needs in the Grant, and stores the Token
// the flow returns. A plugin never reads the host's token file.
type Auth interface {
	// Info describes the plugin: the flow names it provides, its version
	// and a one-line description.
	Info() Info

	// Begin starts a flow and returns at once with what the user must do:
	// an authorization URL, or a verification URI and user code. A flow
	// that needs no user (client credentials) returns its token in
	// Started.Token and is done. ctx bounds the call, not the flow: the
	// flow lives until Await returns or its own timeout passes.
	Begin(ctx context.Context, g Grant) (Started, error)

	// Await blocks until the flow Begin started ends and returns its token.
	// When ctx ends the flow is abandoned (a callback listener closed,
	// polling stopped).
	Await(ctx context.Context, flowID string) (Token, error)

	// Refresh exchanges refreshToken for a new token; for client
	// credentials, refreshToken is empty and the client mints a new one.
	Refresh(ctx context.Context, g Grant, refreshToken string) (Token, error)
}

// AuthNeeds is an optional interface of an Auth plugin: it says what each
// of its flows needs from the host. A plugin without it gets, for every
// flow, an authorization server (discovered or configured) and an OAuth
// client (configured or registered). A flow that gets its token some other
// way (a command that prints one, a company SSO agent) needs neither, and
// the host then skips discovery and client registration.
//
// Like every optional interface of the sdk, it can be added to a plugin at
// any time: a host that does not know it never asks, and a plugin that
// does not implement it answers Unimplemented, which the host reads as the
// default.
type AuthNeeds interface {
	Needs(flow string) FlowNeeds
}

// FlowNeeds is what a flow needs from the host.
type FlowNeeds struct {
	// AuthorizationServer: the flow uses Grant.Endpoints.
	AuthorizationServer bool
	// Client: the flow uses Grant.Client.
	Client bool
}

// DefaultFlowNeeds is what a flow of a plugin without AuthNeeds gets.
var DefaultFlowNeeds = FlowNeeds{AuthorizationServer: true, Client: true}

// Endpoints are the authorization server's, as the host discovered them or
// as the user configured them.
type Endpoints struct {
	Issuer                 string
	AuthorizationURL       string
	TokenURL               string
	DeviceAuthorizationURL string
	RevocationURL          string
}

// Client is the OAuth client a flow acts as.
type Client struct {
	ClientID     string
	ClientSecret string
	// RedirectURI is the redirect URI to use (PKCE); empty lets the plugin
	// choose a loopback one.
	RedirectURI string
	// AuthMethod is how the client authenticates at the token endpoint
	// (RFC 7591 token_endpoint_auth_method): client_secret_basic,
	// client_secret_post, private_key_jwt or none; empty: basic with a
	// secret, none without.
	AuthMethod string
	// PrivateKey (PEM) signs the client's assertions for private_key_jwt
	// (RFC 7523), with SigningAlg (empty: the key's usual algorithm).
	PrivateKey string
	SigningAlg string
}

// Grant is everything a flow needs.
type Grant struct {
	// Flow is the flow's name, one of the plugin's Info names.
	Flow string
	// Server is the server's name in the user's configuration, for logs.
	Server    string
	Endpoints Endpoints
	Client    Client
	Scopes    []string
	// Resource is the resource indicator (RFC 8707): the MCP server's
	// canonical URL, to send in the authorization and token requests.
	Resource         string
	ExtraAuthParams  map[string]string
	ExtraTokenParams map[string]string
	// Options holds settings for this flow the host does not interpret, as
	// a JSON object, or nil.
	Options []byte
	// Timeout bounds the whole flow; 0 for the plugin's default.
	Timeout time.Duration
	// DPoPKey, when set, asks for a sender-constrained token (DPoP, RFC
	// 9449): every token request carries a proof signed with this key
	// (PEM).
	DPoPKey string
}

// Token is what a flow obtained.
type Token struct {
	AccessToken  string
	RefreshToken string
	TokenType    string
	// Expiry is when the access token expires; zero when unknown.
	Expiry time.Time
	// Scopes are those granted, when the server said.
	Scopes []string
}

// String describes the token without its secrets.
func (t Token) String() string {
	exp := "no expiry"
	if !t.Expiry.IsZero() {
		exp = "expires " + t.Expiry.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%s token (%s, refresh token: %t)", t.TokenType, exp, t.RefreshToken != "")
}

// GoString is String, for %#v.
func (t Token) GoString() string { return t.String() }

// Started is what Begin returns: what the user must do, or the token of a
// flow that needed no user.
type Started struct {
	// FlowID names the flow for Await; empty when Token is set.
	FlowID string
	// AuthorizationURL is the URL the user opens (authorization code).
	AuthorizationURL string
	// VerificationURI, VerificationURIComplete and UserCode are the device
	// flow's instructions (RFC 8628).
	VerificationURI         string
	VerificationURIComplete string
	UserCode                string
	// ExpiresIn is how long the user has; zero when unknown.
	ExpiresIn time.Duration
	// Token is set by a flow that needed no user.
	Token *Token
	// Message tells the user, in one line, what to do.
	Message string
}

// AuthClient is the host's handle on an auth plugin; its calls mirror
// Auth's.
type AuthClient interface {
	Begin(ctx context.Context, g Grant) (Started, error)
	Await(ctx context.Context, flowID string) (Token, error)
	Refresh(ctx context.Context, g Grant, refreshToken string) (Token, error)
	// Needs asks what flow needs; DefaultFlowNeeds when the plugin does
	// not say.
	Needs(ctx context.Context, flow string) (FlowNeeds, error)
}
