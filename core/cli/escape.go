package cli

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// What the CLI prints comes partly from config files and servers, which
// may be hostile: an escape sequence in a server's name or a tool's
// description could rewrite the terminal (move the cursor, hide a line,
// set the window title), and bidi controls can make a command read as
// another. Such characters are printed escaped.

// unsafeRune reports whether r must not reach a terminal as it is: C0 and
// C1 controls (tab and newline excepted where allowed), DEL, bidi
// controls, and the invisible Unicode tag characters.
func unsafeRune(r rune, keepNewlines bool) bool {
	switch {
	case r == '\n' || r == '\t':
		return !keepNewlines
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	case r >= 0xe0000 && r <= 0xe007f:
		return true
	case r == utf8.RuneError:
		return true
	}
	return false
}

// terminalSafe escapes the characters of s that could act on a terminal,
// as Go writes them in a quoted string (\x1b, \u202e).
func terminalSafe(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return unsafeRune(r, false) }) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unsafeRune(r, false) {
			if r < 0x100 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// jsonTerminalSafe rewrites encoded JSON so that no character that could
// act on a terminal appears raw: encoding/json escapes C0 controls but
// writes C1 controls, bidi controls and tag characters as they are. They
// can only occur inside strings, where a \u escape means the same.
func jsonTerminalSafe(b []byte) []byte {
	s := string(b)
	if strings.IndexFunc(s, func(r rune) bool { return unsafeRune(r, true) }) < 0 {
		return b
	}
	var out strings.Builder
	for _, r := range s {
		if !unsafeRune(r, true) {
			out.WriteRune(r)
			continue
		}
		if r > 0xffff {
			r1, r2 := utf16Pair(r)
			fmt.Fprintf(&out, `\u%04x\u%04x`, r1, r2)
			continue
		}
		fmt.Fprintf(&out, `\u%04x`, r)
	}
	return []byte(out.String())
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}
