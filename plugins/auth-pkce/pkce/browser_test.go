package pkce

import (
	"strings"
	"testing"
)

// The URL handed to the system's opener is an http(s) URL as an
// authorization request makes it, and nothing a hostile authorization
// server could name instead (a program, a file, a custom handler).
func TestOpenable(t *testing.T) {
	for _, ok := range []string{
		"https://as.example.com/authorize?client_id=a&code_challenge=x-_~&redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Fcb&scope=a+b&state=s",
		"http://127.0.0.1:8080/auth?x=1",
	} {
		if err := openable(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{
		"file:///C:/Windows/System32/calc.exe",
		"file:///usr/bin/xterm",
		"ms-settings:privacy",
		`javascript:alert(1)`,
		"https:///nohost",
		"https://as.example.com/a b",
		`https://as.example.com/"&calc.exe&"`,
		"https://as.example.com/a\nb",
		`https://as.example.com\..\x`,
		"https://as.example.com/`id`",
		"https://as.example.com/|x",
		"",
	} {
		if err := openable(bad); err == nil || !strings.Contains(err.Error(), "not opening") {
			t.Errorf("%q: %v, want a refusal", bad, err)
		}
	}
}
