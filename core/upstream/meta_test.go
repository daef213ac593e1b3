package upstream

import (
	"encoding/json"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

func TestWithMeta(t *testing.T) {
	members := requestMeta("2026-07-28", mcp.ClientCapabilities{Sampling: &mcp.SamplingCapability{}})
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
