package poison

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Characters: what a reader cannot see (zero-width, control, bidi, ANSI,
// tag and variation characters) is removed from a text, and what it hid
// is decoded for the finding.

// scanChars is the part of ScanText that reads s as it is, not as words:
// private-use characters and encoded payloads.
func scanChars(field, s string, b *budget) []Finding {
	fs := privateUse(field, s)
	return append(fs, encoded(field, s, b)...)
}

// char classes for clean. The order is the order findings are reported in.
type class int

const (
	clsZeroWidth class = iota
	clsControl
	clsBidi
	clsANSI
	clsTag
	clsVariation
	numClasses
)

// classOf sorts a rune into the class clean removes, or -1 to keep it.
//
// Soft hyphen (U+00AD) is removed: it is only a line-break hint, so dropping
// it never changes what a description says, and it is a known way to split a
// keyword ("ig\u00adnore") past filters. Zero-width joiners are removed even
// inside emoji sequences: a family emoji falls apart into its members, which
// a model reads the same way. Variation selectors U+FE00–U+FE0F stay (VS16
// picks emoji presentation); the supplementary ones U+E0100–U+E01EF carry
// bytes in Paul Butler's emoji smuggling and are removed and decoded.
func classOf(r rune) class {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return -1
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
		return clsControl
	case r == 0x00ad, r == 0x034f, r == 0x180e,
		r >= 0x200b && r <= 0x200d,
		r >= 0x2060 && r <= 0x2064,
		r == 0xfeff,
		r >= 0xfff9 && r <= 0xfffb: // interlinear annotation marks
		return clsZeroWidth
	case r == 0x061c, r == 0x200e, r == 0x200f,
		r >= 0x202a && r <= 0x202e,
		r >= 0x2066 && r <= 0x2069:
		return clsBidi
	case r >= 0xe0000 && r <= 0xe007f:
		return clsTag
	case r >= 0xe0100 && r <= 0xe01ef:
		return clsVariation
	}
	return -1
}

// maxHidden bounds the decoded bytes kept for a Detail.
const maxHidden = 256

// stats counts what clean removed.
type stats struct {
	n      [numClasses]int
	cps    [numClasses][]rune // first few distinct code points, for the Detail
	hidden [numClasses][]byte // decoded tag / variation-selector bytes
	ansi   string             // first escape sequence, for the Detail
}

func (st *stats) add(c class, r rune) {
	st.n[c]++
	if len(st.cps[c]) < 4 && !slices.Contains(st.cps[c], r) {
		st.cps[c] = append(st.cps[c], r)
	}
	var b byte
	switch c {
	case clsTag:
		b = byte(r - 0xe0000)
	case clsVariation:
		b = byte(r - 0xe0100 + 16)
	default:
		return
	}
	if len(st.hidden[c]) < maxHidden {
		st.hidden[c] = append(st.hidden[c], b)
	}
}

// needsClean is the fast path: pure printable ASCII (plus tab and newlines)
// holds nothing clean would remove.
func needsClean(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c == 0x7f || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
			return true
		}
	}
	return false
}

// clean removes invisible characters. Kept runes are copied byte for byte;
// once anything has been removed, invalid UTF-8 bytes are written as U+FFFD
// so that removing a character cannot join two stray bytes into a new one
// that a second pass would have to remove.
func clean(s string) (string, stats) {
	var st stats
	if !needsClean(s) {
		return s, st
	}
	var b *strings.Builder
	drop := func(i int) {
		if b == nil {
			b = &strings.Builder{}
			b.Grow(len(s))
			b.WriteString(s[:i])
		}
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == 0x1b || r == 0x9b {
			n := escapeLen(s, i, size)
			if st.ansi == "" {
				st.ansi = s[i : i+n]
			}
			st.n[clsANSI]++
			drop(i)
			i += n
			continue
		}
		if r == 0x1f3f4 {
			if n := flagLen(s, i+size); n > 0 {
				if b != nil {
					b.WriteString(s[i : i+size+n])
				}
				i += size + n
				continue
			}
		}
		c := classOf(r)
		if c < 0 {
			if b != nil {
				if r == utf8.RuneError && size == 1 {
					b.WriteRune(utf8.RuneError)
				} else {
					b.WriteString(s[i : i+size])
				}
			}
			i += size
			continue
		}
		st.add(c, r)
		drop(i)
		i += size
	}
	if b == nil {
		return s, st
	}
	return b.String(), st
}

// escapeLen is the byte length of the terminal escape sequence at s[i]
// (ESC, or the one-rune C1 CSI of width size). CSI and OSC sequences go
// whole so no "[8m" debris is left behind; an unterminated OSC takes only
// its introducer, so a stray ESC cannot swallow the rest of a description.
func escapeLen(s string, i, size int) int {
	j := i + size
	if size == 1 { // ESC
		if j >= len(s) {
			return size
		}
		switch c := s[j]; {
		case c == '[':
			j++
		case c == ']':
			for k := j + 1; k < len(s); k++ {
				if s[k] == 0x07 {
					return k + 1 - i
				}
				if s[k] == 0x1b && k+1 < len(s) && s[k+1] == '\\' {
					return k + 2 - i
				}
			}
			return 2
		case c >= 0x40 && c <= 0x5f:
			return 2
		default:
			return 1
		}
	}
	for j < len(s) && s[j] >= 0x30 && s[j] <= 0x3f {
		j++
	}
	for j < len(s) && s[j] >= 0x20 && s[j] <= 0x2f {
		j++
	}
	if j < len(s) && s[j] >= 0x40 && s[j] <= 0x7e {
		j++
	}
	return j - i
}

// flagLen recognises the tag sequence of an emoji subdivision flag (🏴 then
// 2–7 tag letters or digits then CANCEL TAG, as in the flag of England)
// starting at s[i], and returns its byte length or 0. Such flags are the
// one honest use of tag characters; anything longer or other is smuggling.
func flagLen(s string, i int) int {
	j, n := i, 0
	for j < len(s) {
		r, size := utf8.DecodeRuneInString(s[j:])
		switch {
		case r == 0xe007f:
			if n >= 2 {
				return j + size - i
			}
			return 0
		case (r >= 0xe0030 && r <= 0xe0039) || (r >= 0xe0061 && r <= 0xe007a):
			n++
			if n > 7 {
				return 0
			}
			j += size
		default:
			return 0
		}
	}
	return 0
}

var classNames = [numClasses][2]string{
	clsZeroWidth: {KindInvisible, "zero-width character"},
	clsControl:   {KindInvisible, "control character"},
	clsBidi:      {KindBidi, "bidi control"},
	clsANSI:      {KindANSI, "terminal escape sequence"},
	clsTag:       {KindSmuggled, "tag character"},
	clsVariation: {KindSmuggled, "variation selector"},
}

// findings renders st. where == "" means the characters were removed
// ("removed 3 zero-width characters (U+200B)"); otherwise they were left in
// place in the named kind of string ("parameter name holds …, left in place").
func (st *stats) findings(field, where string) []Finding {
	var fs []Finding
	for c := class(0); c < numClasses; c++ {
		n := st.n[c]
		if n == 0 {
			continue
		}
		what := classNames[c][1]
		if n != 1 {
			what += "s"
		}
		d := fmt.Sprintf("%d %s", n, what)
		switch {
		case c == clsANSI:
			d += " " + quote(st.ansi)
		case st.hidden[c] != nil:
			d += " hiding " + quote(string(st.hidden[c]))
		default:
			d += " (" + codePoints(st.cps[c]) + ")"
		}
		if where == "" {
			d = "removed " + d
		} else {
			d = where + " holds " + d + ", left in place"
		}
		fs = append(fs, Finding{Kind: classNames[c][0], Field: field, Detail: d})
	}
	return fs
}

func codePoints(rs []rune) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("U+%04X", r)
	}
	return strings.Join(parts, ", ")
}
