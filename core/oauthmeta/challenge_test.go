package oauthmeta

import "testing"

func TestParseChallenge(t *testing.T) {
	cases := map[string]Challenge{
		`Bearer resource_metadata="https://mcp.example/.well-known/oauth-protected-resource"`:    {ResourceMetadata: "https://mcp.example/.well-known/oauth-protected-resource"},
		`Bearer error="insufficient_scope", scope="read write", resource_metadata="https://x/y"`: {Error: "insufficient_scope", Scope: "read write", ResourceMetadata: "https://x/y"},
		`Basic realm="x", Bearer realm="mcp", error=invalid_token`:                               {Error: "invalid_token"},
		`Bearer realm="a \"quoted\" realm", scope="s"`:                                           {Scope: "s"},
		`Basic realm="x"`: {},
		``:                {},
	}
	for in, want := range cases {
		if got := ParseChallenge(in); got != want {
			t.Errorf("%s:\n got %+v\nwant %+v", in, got, want)
		}
	}
}
