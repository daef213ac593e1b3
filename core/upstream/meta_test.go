package upstream

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/jsonrpc"
)

func TestWithMeta(t *testing.T) {
	members := requestMeta("2026-07-28", mcp.ClientCapabilities{Sampling: &mcp.SamplingCapability{}}, DefaultClientInfo)
	for _, in := range []string{``, `{}`, `{"name":"x","_meta":{"progressToken":7}}`} {
		out := withMeta(json.RawMessage(in), members)
		var got struct {
			Name string                     `json:"name"`
			Meta map[string]json.RawMessage `json:"_meta"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q → %s: %v", in, out, err)
		}
		if string(got.Meta[mcp.MetaKeyProtocolVersion]) != `"2026-07-28"` || got.Meta[mcp.MetaKeyClientInfo] == nil ||
			string(got.Meta[mcp.MetaKeyClientCapabilities]) != `{"sampling":{}}` {
			t.Fatalf("%q → %s", in, out)
		}
		if in != "" && in != "{}" && (got.Name != "x" || string(got.Meta["progressToken"]) != "7") {
			t.Fatalf("the request's own members were lost: %s", out)
		}
	}
	if out := withMeta(json.RawMessage(`[1]`), members); string(out) != `[1]` {
		t.Fatalf("non-object params changed: %s", out)
	}
}

func TestMetaForEachRevision(t *testing.T) {
	in := json.RawMessage(`{"name":"x","_meta":{"progressToken":7,"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":{}},"io.modelcontextprotocol/clientInfo":{"name":"c","version":"1"},"io.modelcontextprotocol/logLevel":"info"}}`)
	// A legacy upstream gets none of the stateless members.
	if got := string(withoutMeta(in)); got != `{"name":"x","_meta":{"progressToken":7}}` {
		t.Fatalf("legacy: %s", got)
	}
	// A modern one gets its own revision and the proxy's identity, but
	// the client's own capabilities and log level for this request.
	out := withMeta(in, requestMeta("2026-07-28", mcp.ClientCapabilities{Sampling: &mcp.SamplingCapability{}}, DefaultClientInfo))
	var got struct {
		Meta map[string]json.RawMessage `json:"_meta"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if string(got.Meta[mcp.MetaKeyClientCapabilities]) != `{"elicitation":{}}` || string(got.Meta[mcp.MetaKeyLogLevel]) != `"info"` ||
		!strings.Contains(string(got.Meta[mcp.MetaKeyClientInfo]), "ica-mcp-proxy") {
		t.Fatalf("modern: %s", out)
	}
}

// The per-call path splices the members in; the result is what setting
// them one by one gives.
func TestSpliceMetaAgreesWithWithMeta(t *testing.T) {
	members := requestMeta("2026-07-28", mcp.ClientCapabilities{Sampling: &mcp.SamplingCapability{}}, DefaultClientInfo)
	head := metaHead(members)
	extra := append(append(jsonrpc.AppendString(nil, mcp.MetaKeyLogLevel), ':'), jsonrpc.AppendString(nil, "info")...)
	for _, in := range []string{``, `{}`, `{ }`, `{"name":"x"}`, `{"name":"x","_meta":{"progressToken":7}}`, `{"_meta":{}}`, `{"_meta":{ },"a":[1]}`} {
		for _, withExtra := range []bool{false, true} {
			var got json.RawMessage
			want := withMeta(json.RawMessage(in), members)
			if withExtra {
				got = spliceMeta(json.RawMessage(in), head, extra)
				want = withMeta(want, []metaMember{logLevelMember("info")})
			} else {
				got = spliceMeta(json.RawMessage(in), head, nil)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("%q: spliced %s is not JSON: %v", in, got, err)
			}
			_ = json.Unmarshal(want, &w)
			if gb, _ := json.Marshal(g); string(gb) != string(mustJSON(w)) {
				t.Errorf("%q: spliced %s, want %s", in, got, want)
			}
		}
	}
	if got := spliceMeta(json.RawMessage(`[1]`), head, nil); string(got) != `[1]` {
		t.Fatalf("non-object params changed: %s", got)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
