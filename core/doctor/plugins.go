package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/pluginhost"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// InfoFunc starts a plugin and asks what it is.
type InfoFunc func(ctx context.Context, c pluginhost.Candidate) (sdk.Info, error)

// Plugins checks each plugin found (integrity, start, Info) and that the
// transports the proxy needs are there.
func Plugins(ctx context.Context, r *Report, dir string, cands []pluginhost.Candidate, info InfoFunc) {
	provided := map[string]bool{}
	for _, c := range cands {
		if c.Refused != "" {
			r.add("plugin", c.File, Fail, "refused: "+c.Refused,
				"if you installed it yourself, reinstall it with `ica-mcp-proxy plugins install PATH`; otherwise remove it from "+dir)
			continue
		}
		in, err := info(ctx, c)
		if err != nil {
			r.add("plugin", c.File, Fail, "does not start: "+err.Error(), "reinstall it (`ica-mcp-proxy plugins install`), or remove it")
			continue
		}
		for _, n := range in.Names {
			provided[string(in.Kind)+"/"+n] = true
		}
		r.add("plugin", c.File, OK, fmt.Sprintf("%s %s, version %s, verified", in.Kind, strings.Join(in.Names, ", "), in.Version), "")
	}
	var missing []string
	for _, t := range []string{"stdio", "http", "sse"} {
		if !provided[string(sdk.KindTransport)+"/"+t] {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		r.add("plugin", dir, Fail, "no working transport plugin for "+strings.Join(missing, ", "),
			"run `ica-mcp-proxy plugins install` from the folder of a complete build (`make install` does it)")
	}
	hasFlow := false
	for k := range provided {
		hasFlow = hasFlow || strings.HasPrefix(k, string(sdk.KindAuth)+"/")
	}
	if !hasFlow {
		r.add("plugin", dir, Warn, "no login flow plugins: servers that need OAuth cannot be logged in to", "run `ica-mcp-proxy plugins install` from a complete build")
	}
}
