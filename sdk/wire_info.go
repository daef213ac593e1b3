package sdk

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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

// Info answers with the highest API version both sides speak. A host that
// shares none with the plugin is answered FAILED_PRECONDITION, naming the
// side to upgrade.
func (s *infoServer) Info(_ context.Context, req *pluginv1.InfoRequest) (*pluginv1.InfoResponse, error) {
	mine := s.info.APIVersions
	host := ints(req.GetHostApiVersions())
	if len(host) == 0 {
		// A host from before negotiation speaks version 1.
		host = []int{1}
	}
	v, err := Negotiate(host, mine)
	if err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	versions := make([]int32, len(mine))
	for i, m := range mine {
		versions[i] = int32(m)
	}
	return &pluginv1.InfoResponse{
		Kind:        kindToProto(s.info.Kind),
		Names:       s.info.Names,
		Version:     s.info.Version,
		ApiVersion:  int32(v),
		ApiVersions: versions,
		Description: s.info.Description,
	}, nil
}

func ints(vs []int32) []int {
	out := make([]int, len(vs))
	for i, v := range vs {
		out[i] = int(v)
	}
	return out
}

type infoClient struct {
	client pluginv1.PluginServiceClient
}

// Info asks the plugin what it is, offering the host's API versions, and
// checks the version it chose: one the host speaks.
func (c *infoClient) Info(ctx context.Context) (Info, error) {
	host := APIVersions()
	req := &pluginv1.InfoRequest{}
	for _, v := range host {
		req.HostApiVersions = append(req.HostApiVersions, int32(v))
	}
	resp, err := c.client.Info(ctx, req)
	if st, ok := status.FromError(err); ok && st.Code() == codes.FailedPrecondition {
		return Info{}, errors.New(st.Message())
	}
	if err != nil {
		return Info{}, fmt.Errorf("info call: %w", err)
	}
	info := Info{
		Kind:        kindFromProto(resp.GetKind()),
		Names:       resp.GetNames(),
		Version:     resp.GetVersion(),
		APIVersion:  int(resp.GetApiVersion()),
		APIVersions: ints(resp.GetApiVersions()),
		Description: resp.GetDescription(),
	}
	if len(info.APIVersions) == 0 {
		info.APIVersions = []int{info.APIVersion}
	}
	if !slices.Contains(host, info.APIVersion) {
		if _, err := Negotiate(host, info.APIVersions); err != nil {
			return Info{}, err
		}
		return Info{}, fmt.Errorf("the plugin chose plugin API version %d, which this proxy does not speak", info.APIVersion)
	}
	return info, nil
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
