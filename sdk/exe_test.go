package sdk

import "testing"

func TestTrimExe(t *testing.T) {
	for in, want := range map[string]string{
		"ica-plugin-transport-stdio":     "ica-plugin-transport-stdio",
		"ica-plugin-transport-stdio.exe": "ica-plugin-transport-stdio",
		"ica-plugin-auth-pkce.EXE":       "ica-plugin-auth-pkce",
		".exe":                           ".exe",
		"ica-plugin-auth-x.exe.bak":      "ica-plugin-auth-x.exe.bak",
	} {
		if got := TrimExe(in); got != want {
			t.Errorf("TrimExe(%q) = %q, want %q", in, got, want)
		}
	}
}
