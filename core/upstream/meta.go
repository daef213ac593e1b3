package upstream

import (
	"encoding/json"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/sjson"
)

// The stateless 2026-07-28 revision has no initialize handshake: each
// request declares the client's protocol version, capabilities and identity
// in its _meta. Requests forwarded from the proxy's client carry the
// client's own _meta (a progress token); these members are added to it.

// metaMember is one _meta member: its sjson path and raw JSON value.
type metaMember struct {
	path  string
	value []byte
}

func requestMeta(version string, caps mcp.ClientCapabilities) []metaMember {
	member := func(key string, v any) metaMember {
		raw, _ := json.Marshal(v)
		return metaMember{path: "_meta." + escapeKey(key), value: raw}
	}
	return []metaMember{
		member(mcp.MetaKeyProtocolVersion, version),
		member(mcp.MetaKeyClientCapabilities, caps),
		member(mcp.MetaKeyClientInfo, ClientInfo),
	}
}

// escapeKey escapes the characters sjson reads as path syntax.
func escapeKey(k string) string {
	r := strings.NewReplacer(".", `\.`, "*", `\*`, "?", `\?`, "|", `\|`, "#", `\#`, "@", `\@`, ":", `\:`)
	return r.Replace(k)
}

// withMeta returns params with the members set in its _meta; params that
// are not an object are returned as they are.
func withMeta(params json.RawMessage, members []metaMember) json.RawMessage {
	if len(params) == 0 {
		params = json.RawMessage("{}")
	} else if params[0] != '{' {
		return params
	}
	out := []byte(params)
	for _, m := range members {
		next, err := sjson.SetRawBytes(out, m.path, m.value)
		if err != nil {
			return params
		}
		out = next
	}
	return out
}
