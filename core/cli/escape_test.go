package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// A hostile name or description reaches the terminal escaped, and JSON
// output stays JSON with the same values.
func TestTerminalSafe(t *testing.T) {
	hostile := "evil\x1b]0;pwned\x07\u202egnp.exe\u009b31m" + string(rune(0xe0041)) + "\ttab"
	got := terminalSafe(hostile)
	if strings.ContainsAny(got, "\x1b\x07\u202e\u009b\t") || strings.ContainsRune(got, 0xe0041) {
		t.Fatalf("terminalSafe left a control: %q", got)
	}
	if !strings.Contains(got, `\x1b]0;pwned\x07\u202egnp.exe\x9b31m\ue0041`) {
		t.Fatalf("terminalSafe: %q", got)
	}
	var buf bytes.Buffer
	if err := printJSON(&buf, map[string]string{"name": hostile}); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(buf.String(), "\x1b\x07\u202e\u009b") || strings.ContainsRune(buf.String(), 0xe0041) {
		t.Fatalf("printJSON left a control: %q", buf.String())
	}
	var back map[string]string
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back["name"] != hostile {
		t.Fatalf("printJSON's output does not decode to the same value: %v %q", err, back["name"])
	}
}
