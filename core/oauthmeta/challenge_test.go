package oauthmeta

import "testing"

func TestParseChallenge(t *testing.T) {
	cases := map[string]Challenge{
		`Bearer resource_metadata="https://mcp.example/.well-known/oauth-protected-resource"`:    {ResourceMetadata: "https://mcp.example/.well-known/oauth-protected-resource", Bearer: true},
		`Bearer error="insufficient_scope", scope="read write", resource_metadata="https://x/y"`: {Error: "insufficient_scope", Scope: "read write", ResourceMetadata: "https://x/y", Bearer: true},
		`Basic realm="x", Bearer realm="mcp", error=invalid_token`:                               {Error: "invalid_token", Bearer: true},
		`Bearer realm="a \"quoted\" realm", scope="s"`:                                           {Scope: "s", Bearer: true},
		// A server taking only DPoP-bound tokens names its metadata in the
		// DPoP challenge (RFC 9449 §7.1, RFC 9728 §5.1).
		`DPoP algs="ES256 PS256", resource_metadata="https://x/m"`: {DPoP: true, DPoPAlgs: "ES256 PS256", ResourceMetadata: "https://x/m"},
		// Both offered: the Bearer challenge's parameters count.
		`DPoP algs="ES256", error="invalid_token", Bearer scope="a"`: {DPoP: true, DPoPAlgs: "ES256", Bearer: true, Scope: "a"},
		`dpop error="use_dpop_nonce"`:                                {DPoP: true, Error: "use_dpop_nonce"},
		// A scheme with no parameters, last or between others.
		`Bearer error="invalid_token", DPoP`:       {Bearer: true, DPoP: true, Error: "invalid_token"},
		`DPoP algs="ES256", Bearer`:                {Bearer: true, DPoP: true, DPoPAlgs: "ES256"},
		`Bearer, DPoP`:                             {Bearer: true, DPoP: true},
		`Basic, Bearer scope="s"`:                  {Bearer: true, Scope: "s"},
		`Bearer realm="a\\", DPoP algs="ES256"`:    {Bearer: true, DPoP: true, DPoPAlgs: "ES256"},
		`Bearer realm="a, DPoP b", scope = "x, y"`: {Bearer: true, Scope: "x, y"},
		`Negotiate YII==, Bearer scope="s"`:        {Bearer: true, Scope: "s"},
		`Bearer scope="s",, DPoP`:                  {Bearer: true, DPoP: true, Scope: "s"},
		`Basic realm="x"`:                          {},
		``:                                         {},
	}
	for in, want := range cases {
		if got := ParseChallenge(in); got != want {
			t.Errorf("%s:\n got %+v\nwant %+v", in, got, want)
		}
	}
}
