package sdk

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pluginv1 "github.com/ica-mcp-proxy/ica-mcp-proxy/proto/ica/plugin/v1"
)

func TestNegotiate(t *testing.T) {
	for _, c := range []struct {
		host, plugin []int
		want         int
		err          string
	}{
		{[]int{1}, []int{1}, 1, ""},
		{[]int{1, 2, 3}, []int{2, 3, 4}, 3, ""},
		{[]int{2, 3}, []int{1}, 0, "older than this proxy's versions 2 to 3: rebuild the plugin against a newer sdk"},
		{[]int{1}, []int{2, 3}, 0, "newer than this proxy's version 1: upgrade ica-mcp-proxy"},
		{[]int{1}, nil, 0, "no plugin API version offered"},
	} {
		got, err := Negotiate(c.host, c.plugin)
		if got != c.want || (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("Negotiate(%v, %v) = %d, %v; want %d, %q", c.host, c.plugin, got, err, c.want, c.err)
		}
	}
}

// The sdk's API versions are the proto's ApiVersion enum.
func TestAPIVersionMatchesProto(t *testing.T) {
	var inProto []int
	for _, v := range pluginv1.ApiVersion_value {
		if v != 0 {
			inProto = append(inProto, int(v))
		}
	}
	if slices.Max(inProto) != APIVersion {
		t.Fatalf("sdk.APIVersion is %d, the proto's newest ApiVersion is %d", APIVersion, slices.Max(inProto))
	}
	for _, v := range APIVersions() {
		if !slices.Contains(inProto, v) {
			t.Fatalf("sdk speaks API version %d, which the proto's ApiVersion enum lacks", v)
		}
	}
}

// connectInfo serves an Info answering as a plugin speaking versions, and
// returns the host's client and a raw client.
func connectInfo(t *testing.T, versions []int) (*infoClient, pluginv1.PluginServiceClient) {
	t.Helper()
	info := Info{Kind: KindAuth, Names: []string{"x"}, APIVersions: versions}
	client, _ := plugin.TestPluginGRPCConn(t, false, plugin.PluginSet{pluginNameInfo: &infoPlugin{info: info}})
	t.Cleanup(func() { _ = client.Close() })
	raw, err := client.Dispense(pluginNameInfo)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(*infoClient), raw.(*infoClient).client
}

func TestNegotiationOverTheWire(t *testing.T) {
	ctx := context.Background()
	// Same versions: agreed.
	c, _ := connectInfo(t, APIVersions())
	info, err := c.Info(ctx)
	if err != nil || info.APIVersion != APIVersion {
		t.Fatalf("info %+v, %v", info, err)
	}
	// A plugin built against a newer sdk only: refused, naming the fix.
	c, _ = connectInfo(t, []int{APIVersion + 1, APIVersion + 2})
	if _, err := c.Info(ctx); err == nil || !strings.Contains(err.Error(), "upgrade ica-mcp-proxy") {
		t.Fatalf("too new: %v", err)
	}
	// A host newer than the plugin: the plugin answers FAILED_PRECONDITION.
	_, raw := connectInfo(t, []int{1})
	_, err = raw.Info(ctx, &pluginv1.InfoRequest{HostApiVersions: []int32{2, 3}})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "rebuild the plugin against a newer sdk") {
		t.Fatalf("host too new: %v", err)
	}
	// A host from before negotiation sends no versions: version 1.
	resp, err := raw.Info(ctx, &pluginv1.InfoRequest{})
	if err != nil || resp.GetApiVersion() != 1 {
		t.Fatalf("old host: %v %v", resp, err)
	}
}

// A server's name from a hostile config never reaches the terminal raw as
// a logger's name.
func TestLogNameEscapes(t *testing.T) {
	for in, want := range map[string]string{
		"github":                      "github",
		"docs-ü":                      "docs-ü",
		"evil\x1b]0;owned\x07":        `evil\x1b]0;owned\a`,
		"rtl\u202egnp":                `rtl\u202egnp`,
		"tag" + string(rune(0xe0041)): `tag\U000e0041`,
	} {
		if got := logName(in); got != want {
			t.Errorf("logName(%q) = %q, want %q", in, got, want)
		}
	}
}
