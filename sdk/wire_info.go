package sdk

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pluginv1 "github.com/ica-mcp-proxy/ica-mcp-proxy/proto/ica/plugin/v1"
)

// infoPlugin is the go-plugin glue of the base Info service. On the plugin
// side info is set; on the host side it is nil.
type infoPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	info Info
}

func (p *infoPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginv1.RegisterPluginServiceServer(s, &infoServer{info: p.info})
	return nil
}

func (p *infoPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &infoClient{client: pluginv1.NewPluginServiceClient(c)}, nil
}

type infoServer struct {
	pluginv1.UnimplementedPluginServiceServer
	info Info
}

func (s *infoServer) Info(context.Context, *pluginv1.InfoRequest) (*pluginv1.InfoResponse, error) {
	return &pluginv1.InfoResponse{
		Kind:        kindToProto(s.info.Kind),
		Names:       s.info.Names,
		Version:     s.info.Version,
		ApiVersion:  int32(s.info.APIVersion),
		Description: s.info.Description,
	}, nil
}

type infoClient struct {
	client pluginv1.PluginServiceClient
}

func (c *infoClient) Info(ctx context.Context) (Info, error) {
	resp, err := c.client.Info(ctx, &pluginv1.InfoRequest{HostApiVersions: []int32{APIVersion}})
	if err != nil {
		return Info{}, fmt.Errorf("info call: %w", err)
	}
	return Info{
		Kind:        kindFromProto(resp.GetKind()),
		Names:       resp.GetNames(),
		Version:     resp.GetVersion(),
		APIVersion:  int(resp.GetApiVersion()),
		Description: resp.GetDescription(),
	}, nil
}

func kindToProto(k Kind) pluginv1.Kind {
	switch k {
	case KindTransport:
		return pluginv1.Kind_KIND_TRANSPORT
	case KindAuth:
		return pluginv1.Kind_KIND_AUTH
	}
	return pluginv1.Kind_KIND_UNSPECIFIED
}

func kindFromProto(k pluginv1.Kind) Kind {
	switch k {
	case pluginv1.Kind_KIND_TRANSPORT:
		return KindTransport
	case pluginv1.Kind_KIND_AUTH:
		return KindAuth
	}
	return ""
}
