package upstream

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/jsonrpc"
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

func requestMeta(version string, caps mcp.ClientCapabilities, info mcp.Implementation) []metaMember {
	member := func(key string, v any) metaMember {
		raw, _ := json.Marshal(v)
		return metaMember{path: "_meta." + escapeKey(key), value: raw}
	}
	c := member(mcp.MetaKeyClientCapabilities, caps)
	c.keep = true
	return []metaMember{
		member(mcp.MetaKeyProtocolVersion, version),
		c,
		member(mcp.MetaKeyClientInfo, info),
	}
}

// metaHead is the members every request to a stateless upstream carries,
// as raw JSON object members ("key":value,...), for spliceMeta.
func metaHead(members []metaMember) []byte {
	var b []byte
	for i, m := range members {
		if i > 0 {
			b = append(b, ',')
		}
		key := strings.ReplaceAll(strings.TrimPrefix(m.path, "_meta."), `\`, "")
		b = jsonrpc.AppendString(b, key)
		b = append(b, ':')
		b = append(b, m.value...)
	}
	return b
}

// spliceMeta is withMeta for params that carry none of the members
// already (a request of a client of an initialize revision, the usual
// case): the members are spliced at the end of the _meta object, or of
// params in a new one, by copying bytes, without parsing and re-encoding
// params for each member. extra, if any, is spliced too.
func spliceMeta(params json.RawMessage, head, extra []byte) json.RawMessage {
	members := head
	if len(extra) > 0 {
		members = append(append(append([]byte(nil), head...), ','), extra...)
	}
	if len(params) == 0 {
		out := make([]byte, 0, len(members)+12)
		out = append(out, `{"_meta":{`...)
		out = append(out, members...)
		return append(out, "}}"...)
	}
	if params[0] != '{' {
		return params
	}
	// end is the closing brace the members go before: the _meta
	// object's, or params' own.
	end, wrap := len(bytes.TrimRight(params, " \t\r\n"))-1, true
	obj := params[:end+1]
	if m := gjson.GetBytes(params, "_meta"); m.IsObject() {
		end, wrap, obj = m.Index+len(m.Raw)-1, false, params[m.Index:m.Index+len(m.Raw)]
	} else if m.Exists() {
		return params // not an object: left to the server to refuse
	}
	empty := len(bytes.TrimSpace(obj[1:len(obj)-1])) == 0
	out := make([]byte, 0, len(params)+len(members)+12)
	out = append(out, params[:end]...)
	if !empty {
		out = append(out, ',')
	}
	if wrap {
		out = append(out, `"_meta":{`...)
	}
	out = append(out, members...)
	if wrap {
		out = append(out, '}')
	}
	return append(out, params[end:]...)
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
