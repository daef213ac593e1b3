package upstream

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// The stateless 2026-07-28 revision has no initialize handshake: each
// request declares the client's protocol version, capabilities and identity
// in its _meta. Requests forwarded from the proxy's client carry the
// client's own _meta (a progress token; from a 2026-07-28 client, these
// members too); the upstream's revision decides what it gets of them.

// metaMember is one _meta member: its sjson path and raw JSON value.
type metaMember struct {
	path  string
	value []byte
	// keep leaves the request's own value in place: what a 2026-07-28
	// client declares for a request is what the upstream is told.
	keep bool
}

func requestMeta(version string, caps mcp.ClientCapabilities) []metaMember {
	member := func(key string, v any) metaMember {
		raw, _ := json.Marshal(v)
		return metaMember{path: "_meta." + escapeKey(key), value: raw}
	}
	c := member(mcp.MetaKeyClientCapabilities, caps)
	c.keep = true
	return []metaMember{
		member(mcp.MetaKeyProtocolVersion, version),
		c,
		member(mcp.MetaKeyClientInfo, ClientInfo),
	}
}

// logLevelMember asks for log messages of level and above, unless the
// request asks for its own.
func logLevelMember(level string) metaMember {
	raw, _ := json.Marshal(level)
	return metaMember{path: "_meta." + escapeKey(mcp.MetaKeyLogLevel), value: raw, keep: true}
}

// perRequestKeys are the _meta members of the stateless revision's
// requests.
var perRequestKeys = []string{mcp.MetaKeyProtocolVersion, mcp.MetaKeyClientCapabilities, mcp.MetaKeyClientInfo, mcp.MetaKeyLogLevel}

// withoutMeta returns params without the stateless revision's members,
// for an upstream that speaks an initialize revision: a dual-era server
// would otherwise serve a forwarded request as stateless, in a revision
// the session did not agree on.
func withoutMeta(params json.RawMessage) json.RawMessage {
	if !bytes.Contains(params, []byte(mcp.MetaKeyProtocolVersion)) {
		return params // the usual case: nothing to look for
	}
	out := []byte(params)
	for _, k := range perRequestKeys {
		next, err := sjson.DeleteBytes(out, "_meta."+escapeKey(k))
		if err != nil {
			return params
		}
		out = next
	}
	return out
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
		if m.keep && gjson.GetBytes(out, m.path).Exists() {
			continue
		}
		next, err := sjson.SetRawBytes(out, m.path, m.value)
		if err != nil {
			return params
		}
		out = next
	}
	return out
}
