package redact

import "testing"

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                                  "",
		"https://api.example/mcp":           "https://api.example/mcp",
		"https://${HOST}/mcp/${TENANT}":     "https://${HOST}/mcp/${TENANT}",
		"https://user:pw@api.example/mcp":   "https://REDACTED@api.example/mcp",
		"https://api.example/mcp?key=abc&x": "https://api.example/mcp?key=REDACTED&x",
		"https://api.example/?k=${SECRET}":  "https://api.example/?k=REDACTED",
		"https://a@b@host/p?q=1#frag":       "https://REDACTED@host/p?q=REDACTED#frag",
		"not a url?token=1":                 "not a url?token=REDACTED",
	} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}
