package sdk

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	authv1 "github.com/ica-mcp-proxy/ica-mcp-proxy/proto/ica/auth/v1"
)

// authPlugin is the go-plugin glue of the AuthService. On the plugin side
// impl is set; on the host side it is nil.
type authPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl   Auth
	logger hclog.Logger
}

func (p *authPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	authv1.RegisterAuthServiceServer(s, &authServer{impl: p.impl, logger: p.logger})
	return nil
}

func (p *authPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &authClient{client: authv1.NewAuthServiceClient(c)}, nil
}

type authServer struct {
	authv1.UnimplementedAuthServiceServer
	impl   Auth
	logger hclog.Logger
}

// errorStatus carries a plugin's error to the host as a message: the
// host shows it to the user.
func errorStatus(err error) error {
	if err == nil {
		return nil
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
		return err
	}
	code := codes.Unknown
	switch {
	case err == context.Canceled:
		code = codes.Canceled
	case err == context.DeadlineExceeded:
		code = codes.DeadlineExceeded
	}
	return status.Error(code, err.Error())
}

// Needs answers for a plugin that implements AuthNeeds; for any other the
// embedded UnimplementedAuthServiceServer would, so it says so itself.
func (s *authServer) Needs(_ context.Context, req *authv1.NeedsRequest) (*authv1.NeedsResponse, error) {
	n, ok := s.impl.(AuthNeeds)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "the plugin does not say what its flows need")
	}
	fn := n.Needs(req.GetFlow())
	return &authv1.NeedsResponse{AuthorizationServer: fn.AuthorizationServer, Client: fn.Client}, nil
}

func (s *authServer) Begin(ctx context.Context, req *authv1.BeginRequest) (*authv1.BeginResponse, error) {
	st, err := s.impl.Begin(ctx, grantFromProto(req.GetGrant()))
	if err != nil {
		return nil, errorStatus(err)
	}
	resp := &authv1.BeginResponse{
		FlowId:                  st.FlowID,
		AuthorizationUrl:        st.AuthorizationURL,
		VerificationUri:         st.VerificationURI,
		VerificationUriComplete: st.VerificationURIComplete,
		UserCode:                st.UserCode,
		ExpiresInS:              int64(st.ExpiresIn / time.Second),
		Message:                 st.Message,
	}
	if st.Token != nil {
		resp.Token = tokenToProto(*st.Token)
	}
	return resp, nil
}

func (s *authServer) Await(ctx context.Context, req *authv1.AwaitRequest) (*authv1.AwaitResponse, error) {
	t, err := s.impl.Await(ctx, req.GetFlowId())
	if err != nil {
		return nil, errorStatus(err)
	}
	return &authv1.AwaitResponse{Token: tokenToProto(t)}, nil
}

func (s *authServer) Refresh(ctx context.Context, req *authv1.RefreshRequest) (*authv1.RefreshResponse, error) {
	t, err := s.impl.Refresh(ctx, grantFromProto(req.GetGrant()), req.GetRefreshToken())
	if err != nil {
		return nil, errorStatus(err)
	}
	return &authv1.RefreshResponse{Token: tokenToProto(t)}, nil
}

type authClient struct {
	client authv1.AuthServiceClient
}

// callError turns a gRPC error back into the plugin's words.
func callError(call string, err error) error {
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case codes.Canceled:
			return fmt.Errorf("%s: %w", call, context.Canceled)
		case codes.DeadlineExceeded:
			return fmt.Errorf("%s: %w", call, context.DeadlineExceeded)
		}
		return fmt.Errorf("%s: %s", call, s.Message())
	}
	return fmt.Errorf("%s: %w", call, err)
}

func (c *authClient) Needs(ctx context.Context, flow string) (FlowNeeds, error) {
	resp, err := c.client.Needs(ctx, &authv1.NeedsRequest{Flow: flow})
	if status.Code(err) == codes.Unimplemented {
		return DefaultFlowNeeds, nil
	}
	if err != nil {
		return FlowNeeds{}, callError("needs", err)
	}
	return FlowNeeds{AuthorizationServer: resp.GetAuthorizationServer(), Client: resp.GetClient()}, nil
}

func (c *authClient) Begin(ctx context.Context, g Grant) (Started, error) {
	resp, err := c.client.Begin(ctx, &authv1.BeginRequest{Grant: grantToProto(g)})
	if err != nil {
		return Started{}, callError("begin", err)
	}
	st := Started{
		FlowID:                  resp.GetFlowId(),
		AuthorizationURL:        resp.GetAuthorizationUrl(),
		VerificationURI:         resp.GetVerificationUri(),
		VerificationURIComplete: resp.GetVerificationUriComplete(),
		UserCode:                resp.GetUserCode(),
		ExpiresIn:               time.Duration(resp.GetExpiresInS()) * time.Second,
		Message:                 resp.GetMessage(),
	}
	if resp.GetToken() != nil {
		t := tokenFromProto(resp.GetToken())
		st.Token = &t
	}
	return st, nil
}

func (c *authClient) Await(ctx context.Context, flowID string) (Token, error) {
	resp, err := c.client.Await(ctx, &authv1.AwaitRequest{FlowId: flowID})
	if err != nil {
		return Token{}, callError("await", err)
	}
	return tokenFromProto(resp.GetToken()), nil
}

func (c *authClient) Refresh(ctx context.Context, g Grant, refreshToken string) (Token, error) {
	resp, err := c.client.Refresh(ctx, &authv1.RefreshRequest{Grant: grantToProto(g), RefreshToken: refreshToken})
	if err != nil {
		return Token{}, callError("refresh", err)
	}
	return tokenFromProto(resp.GetToken()), nil
}

func grantToProto(g Grant) *authv1.Grant {
	return &authv1.Grant{
		Flow:   g.Flow,
		Server: g.Server,
		Endpoints: &authv1.Endpoints{
			Issuer:                 g.Endpoints.Issuer,
			AuthorizationUrl:       g.Endpoints.AuthorizationURL,
			TokenUrl:               g.Endpoints.TokenURL,
			DeviceAuthorizationUrl: g.Endpoints.DeviceAuthorizationURL,
			RevocationUrl:          g.Endpoints.RevocationURL,
		},
		Client: &authv1.Client{
			ClientId:                g.Client.ClientID,
			ClientSecret:            g.Client.ClientSecret,
			RedirectUri:             g.Client.RedirectURI,
			TokenEndpointAuthMethod: g.Client.AuthMethod,
			PrivateKey:              g.Client.PrivateKey,
			SigningAlg:              g.Client.SigningAlg,
		},
		Scopes:           g.Scopes,
		Resource:         g.Resource,
		ExtraAuthParams:  g.ExtraAuthParams,
		ExtraTokenParams: g.ExtraTokenParams,
		OptionsJson:      g.Options,
		TimeoutMs:        g.Timeout.Milliseconds(),
		DpopKey:          g.DPoPKey,
	}
}

func grantFromProto(g *authv1.Grant) Grant {
	e, c := g.GetEndpoints(), g.GetClient()
	return Grant{
		Flow:   g.GetFlow(),
		Server: g.GetServer(),
		Endpoints: Endpoints{
			Issuer:                 e.GetIssuer(),
			AuthorizationURL:       e.GetAuthorizationUrl(),
			TokenURL:               e.GetTokenUrl(),
			DeviceAuthorizationURL: e.GetDeviceAuthorizationUrl(),
			RevocationURL:          e.GetRevocationUrl(),
		},
		Client: Client{
			ClientID:     c.GetClientId(),
			ClientSecret: c.GetClientSecret(),
			RedirectURI:  c.GetRedirectUri(),
			AuthMethod:   c.GetTokenEndpointAuthMethod(),
			PrivateKey:   c.GetPrivateKey(),
			SigningAlg:   c.GetSigningAlg(),
		},
		Scopes:           g.GetScopes(),
		Resource:         g.GetResource(),
		ExtraAuthParams:  g.GetExtraAuthParams(),
		ExtraTokenParams: g.GetExtraTokenParams(),
		Options:          g.GetOptionsJson(),
		Timeout:          time.Duration(g.GetTimeoutMs()) * time.Millisecond,
		DPoPKey:          g.GetDpopKey(),
	}
}

func tokenToProto(t Token) *authv1.Token {
	var exp int64
	if !t.Expiry.IsZero() {
		exp = t.Expiry.Unix()
	}
	return &authv1.Token{
		AccessToken:   t.AccessToken,
		RefreshToken:  t.RefreshToken,
		TokenType:     t.TokenType,
		ExpiresAtUnix: exp,
		Scopes:        t.Scopes,
	}
}

func tokenFromProto(t *authv1.Token) Token {
	var exp time.Time
	if s := t.GetExpiresAtUnix(); s > 0 {
		exp = time.Unix(s, 0).UTC()
	}
	return Token{
		AccessToken:  t.GetAccessToken(),
		RefreshToken: t.GetRefreshToken(),
		TokenType:    t.GetTokenType(),
		Expiry:       exp,
		Scopes:       t.GetScopes(),
	}
}
