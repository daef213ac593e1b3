package pluginhost

import "testing"

// A plugin's kind and name come from its file name, whatever the system
// calls executables: ica-plugin-<kind>-<name>, with ".exe" on Windows.
func TestParseFileName(t *testing.T) {
	for file, want := range map[string][3]string{
		"ica-plugin-transport-stdio":     {"transport", "stdio", ""},
		"ica-plugin-transport-stdio.exe": {"transport", "stdio", ""},
		"ica-plugin-auth-my-sso.EXE":     {"auth", "my-sso", ""},
		"ica-plugin-auth":                {"", "", "file name is not ica-plugin-<kind>-<name>"},
		"ica-plugin-gadget-x.exe":        {"gadget", "x", `unknown plugin kind "gadget"`},
	} {
		kind, name, refused := parseFileName(file)
		if got := [3]string{string(kind), name, refused}; got != want {
			t.Errorf("%s: %q, want %q", file, got, want)
		}
	}
}
