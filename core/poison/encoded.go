package poison

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// KindPrivateUse: private-use characters (U+E000–U+F8FF and planes 15 and
// 16). They are reported and left in place: icon fonts (Font Awesome, Nerd
// Fonts, Material Icons) map their glyphs there, so a title may honestly
// hold one. See Severe for when they count.
const KindPrivateUse = "private_use"

// KindEncoded: a base64 or hex run inside a value decodes to text that
// matches the phrase patterns or reads as a shell command. Severe.
const KindEncoded = "encoded_payload"

// KindQuoted: an instruction-override or concealment phrase that the text
// quotes as an example ('detects phrases such as "ignore previous
// instructions"') rather than says. Reported, not severe; see quotedMention.
const KindQuoted = "quoted_phrase"

// privateUseSevere is how many private-use characters one string must hold
// before they count as severe. An icon font needs one glyph per icon, and a
// title or label shows one or two; a code point with no agreed meaning
// carries at most one symbol of hidden data, so a message needs many of
// them in a row (like tag-character smuggling, which spends one per byte).
// Eight is more than any icon label uses and fewer than any useful
// message.
const privateUseSevere = 8

func isPrivateUse(r rune) bool {
	return r >= 0xe000 && r <= 0xf8ff || r >= 0xf0000 && r <= 0xffffd || r >= 0x100000 && r <= 0x10fffd
}

// privateUse reports the private-use characters in s, if any. The Detail
// starts with the count, which Severe reads.
func privateUse(field, s string) []Finding {
	i := 0
	for i < len(s) && s[i] < 0xee { // every private-use character encodes with a lead byte ≥ 0xEE
		i++
	}
	if i == len(s) {
		return nil
	}
	n := 0
	var cps []rune
	for _, r := range s[i:] {
		if isPrivateUse(r) {
			n++
			if len(cps) < 4 && !strings.ContainsRune(string(cps), r) {
				cps = append(cps, r)
			}
		}
	}
	if n == 0 {
		return nil
	}
	d := fmt.Sprintf("%d private-use character", n)
	if n != 1 {
		d += "s"
	}
	d += " (" + codePoints(cps) + "), left in place"
	if n >= privateUseSevere {
		d += "; enough to carry a hidden message"
	}
	return []Finding{{Kind: KindPrivateUse, Field: field, Detail: d}}
}

// privateUseCount reads the count a private_use Detail starts with (after
// a "what: " prefix, for keys and contract values); ok is false if none.
func privateUseCount(detail string) (int, bool) {
	i := strings.IndexFunc(detail, func(r rune) bool { return r >= '0' && r <= '9' })
	if i < 0 {
		return 0, false
	}
	j := i
	for j < len(detail) && detail[j] >= '0' && detail[j] <= '9' {
		j++
	}
	n, err := strconv.Atoi(detail[i:j])
	return n, err == nil
}

// Bounds on decoding. A run's decoded text is scanned up to maxDecoded
// bytes (an SVG icon can be longer; its tail goes unread). A string may
// hold maxTextRunsString runs that decode to text, an item maxTextRunsItem;
// past either, CheckItem reports one severe finding rather than let a pile
// of decoys hide the run that matters. Runs that decode to binary (images,
// hashes, identifiers) are dropped after their first maxDecoded bytes and
// count against nothing but the string's length.
const (
	minBase64         = 24
	minHex            = 32
	maxDecoded        = 8 << 10
	maxTextRunsString = 8
	maxTextRunsItem   = 32
	maxNesting        = 2 // base64 inside base64 is decoded once more
)

// budget tracks the decoding an item has done.
type budget struct {
	textRuns int
	over     bool // the over-limit finding was made
}

func isB64Byte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '+' || c == '/' || c == '-' || c == '_'
}

func isHexByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// encoded finds base64 and hex runs in s, decodes them, and reports those
// whose decoded text matches a phrase pattern or a shell-command pattern:
// at most one finding per string, for the first such run.
func encoded(field, s string, b *budget) []Finding {
	return encodedAt(field, s, b, 0)
}

func encodedAt(field, s string, b *budget, depth int) []Finding {
	if !hasRun(s) {
		return nil
	}
	runs := 0
	var f *Finding
	for i := 0; i < len(s) && f == nil; {
		if !isB64Byte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isB64Byte(s[j]) {
			j++
		}
		run := s[i:j]
		for j < len(s) && j-len(run)-i < 2 && s[j] == '=' {
			j++
		}
		i = j
		if len(run) < minBase64 {
			continue
		}
		for _, c := range candidates(run) {
			text, enc, ok := decodeRun(c)
			if !ok {
				continue
			}
			runs++
			b.textRuns++
			if runs > maxTextRunsString || b.textRuns > maxTextRunsItem {
				if b.over {
					return nil
				}
				b.over = true
				return []Finding{{Kind: KindEncoded, Field: field, Detail: fmt.Sprintf(
					"more than %d encoded text runs in the string or %d in the item; the rest were not decoded", maxTextRunsString, maxTextRunsItem)}}
			}
			if m := decodedMatches(text, b, depth); m != "" {
				f = &Finding{Kind: KindEncoded, Field: field, Detail: fmt.Sprintf("%s %s decodes to %s, which matches %s", enc, quoteShort(c, 24), quoteShort(text, 60), m)}
				break
			}
		}
	}
	if f == nil {
		return nil
	}
	return []Finding{*f}
}

// hasRun is the fast path: most strings hold no run of minBase64 base64
// characters.
func hasRun(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		if isB64Byte(s[i]) {
			n++
			if n >= minBase64 {
				return true
			}
		} else {
			n = 0
		}
	}
	return false
}

// candidates lists what to try decoding in one run: the run itself, less a
// "0x" before hex; and, if it mixes the two base64 alphabets or holds path
// separators, its pieces between '/', '+', '-' and '_' (a payload glued to a
// URL path: "https://h/x/aWdub3Jl…").
func candidates(run string) []string {
	out := []string{strings.TrimPrefix(strings.TrimPrefix(run, "0x"), "0X")}
	if !strings.ContainsAny(run, "/+-_") {
		return out
	}
	for piece := range strings.FieldsFuncSeq(run, func(r rune) bool { return r == '/' || r == '+' || r == '-' || r == '_' }) {
		if len(piece) >= minBase64 && piece != out[0] {
			out = append(out, piece)
		}
	}
	return out
}

// decodeRun decodes a hex run of minHex digits or more, or a base64 run (either
// alphabet, padding stripped) that mixes upper and lower case, as base64 of
// text always does and identifiers, paths and hashes seldom do. It returns
// the decoded text only when it is mostly printable UTF-8.
func decodeRun(run string) (text, enc string, ok bool) {
	hexOnly := true
	upper, lower := false, false
	for i := 0; i < len(run); i++ {
		c := run[i]
		hexOnly = hexOnly && isHexByte(c)
		upper = upper || c >= 'A' && c <= 'Z'
		lower = lower || c >= 'a' && c <= 'z'
	}
	var raw []byte
	switch {
	case hexOnly:
		if len(run) < minHex {
			return "", "", false
		}
		n := min(len(run)&^1, 2*maxDecoded)
		raw = make([]byte, n/2)
		if _, err := hex.Decode(raw, []byte(run[:n])); err != nil {
			return "", "", false
		}
		enc = "hex"
	case upper && lower:
		n := min(len(run), maxDecoded/3*4)
		if n%4 == 1 {
			n--
		}
		e := base64.RawStdEncoding
		if strings.ContainsAny(run[:n], "-_") {
			if strings.ContainsAny(run[:n], "+/") {
				return "", "", false
			}
			e = base64.RawURLEncoding
		}
		var err error
		if raw, err = e.DecodeString(run[:n]); err != nil {
			return "", "", false
		}
		enc = "base64"
	default:
		return "", "", false
	}
	if !mostlyText(raw) {
		return "", "", false
	}
	return string(raw), enc, true
}

// mostlyText reports whether b reads as text: valid UTF-8 (a rune cut off at
// the end is forgiven) with at most one rune in twenty neither printable nor
// whitespace. Random bytes of the minimum length pass with odds below one
// in a million.
func mostlyText(b []byte) bool {
	if len(b) < minHex/2 {
		return false
	}
	n, bad := 0, 0
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size <= 1 {
			if len(b) < utf8.UTFMax && !utf8.FullRune(b) {
				break
			}
			return false
		}
		n++
		if !unicode.IsPrint(r) && !unicode.IsSpace(r) {
			bad++
		}
		b = b[size:]
	}
	return n > 0 && bad*20 <= n
}

// decodedMatches runs the phrase patterns and the shell-command patterns
// over decoded text and names what matched, or returns "". An HTML comment
// is no signal here (SVG icons carry generator comments, and the text is
// hidden already); what the comment says still goes through the other
// patterns.
func decodedMatches(text string, b *budget, depth int) string {
	norm := normalize(text)
	var parts []string
	for _, f := range matchPatterns("", norm) {
		if f.Kind == KindMarkup && strings.HasPrefix(f.Detail, "hidden comment:") {
			continue
		}
		if f.Kind == KindQuoted {
			continue
		}
		parts = append(parts, f.Detail)
	}
	lower := strings.ToLower(norm)
	for _, p := range shellPatterns {
		if !containsAny(lower, p.any) {
			continue
		}
		if loc := p.re().FindStringIndex(norm); loc != nil {
			parts = append(parts, p.label+": "+quote(strings.TrimSpace(norm[loc[0]:loc[1]])))
			break
		}
	}
	if len(parts) == 0 && depth+1 < maxNesting {
		for _, f := range encodedAt("", text, b, depth+1) {
			parts = append(parts, f.Detail)
		}
	}
	return strings.Join(parts, "; ")
}

// quoteShort quotes at most n runes of s, for the run and the decoded text
// in a Detail (the matches after them are quoted in full).
func quoteShort(s string, n int) string {
	i := 0
	for k := range s {
		if i == n {
			return strconv.Quote(s[:k]) + "…"
		}
		i++
	}
	return strconv.Quote(s)
}

// shellPatterns are applied to decoded text only. Plain descriptions
// legitimately show install one-liners ("curl https://get.example.com | sh")
// and clean-up commands; hidden in base64 or hex, the same command has no
// honest reason to be there.
var shellPatterns = []pattern{
	{KindEncoded, "pipe to shell", []string{"|"}, re(`\b(?:curl|wget|fetch|iwr|irm|invoke-webrequest|invoke-restmethod)\b[^|\n]{0,200}\|\s*(?:sudo\s+)?(?:(?:ba|z|da|k|c|tc|fi)?sh|python[23]?|perl|ruby|node|iex|powershell|pwsh)\b`)},
	{KindEncoded, "reverse shell", []string{"/dev/tcp", "/dev/udp", "nc ", "ncat", "netcat", "sh -i", "socat"}, re(`/dev/(?:tcp|udp)/|\b(?:nc|ncat|netcat)\b[^\n]{0,80}\s-[ec]\s|\b(?:ba)?sh -i\b|\bsocat\b[^\n]{0,80}\bexec:`)},
	{KindEncoded, "destructive command", []string{"rm "}, re(`\brm\s+-[a-z]*[rf][a-z]*\s+(?:/|~|\*|\$home|\.\.?(?:\s|$))`)},
	{KindEncoded, "shell command", []string{"chmod", "powershell", "pwsh", "eval", "exec"}, re(`\bchmod\s+(?:[ugoa]*\+x|[0-7]{3,4})\b|\b(?:powershell|pwsh)\b[^\n]{0,40}\s-(?:e|en|enc|encodedcommand)\s|\beval\s*\(?\s*["'$]|\bexec\s*\(`)},
	{KindEncoded, "shell download", []string{"curl", "wget"}, re(`\b(?:curl|wget)\b\s+[^\n]{0,200}?(?:https?://|\b(?:\d{1,3}\.){3}\d{1,3})`)},
}

// Quoting discount. A phrase of the kinds below that the text quotes as an
// example, rather than says, becomes a KindQuoted finding, which is not
// severe. All of these must hold:
//   - the match lies within one pair of quotes (', " or `), the opening one
//     at most 24 bytes before it and at the start of a word, the closing one
//     at most 40 bytes after it and at the end of a word, with no other
//     quote character in between and at most 120 bytes in all;
//   - the words before the opening quote, in the same sentence, hold a cue
//     that the phrase is being talked about: "such as", "e.g.", "for
//     example", "phrase", "pattern", "injection", "detect", "flag" …
//
// Only instruction overrides and concealment are discounted: quoting them
// changes nothing a model is told to do. Files, exfiltration targets,
// markup and other servers' tool names are reported as they are, quoted or
// not. Every later match of the same pattern is tried too, so one quoted
// example cannot shield an unquoted attack. Labels ("Expected output:
// ignore …") and relative clauses ("prompts that ignore …") are not
// discounted: unlike quotes, they are what an attacker would write anyway.
var discounted = map[string]bool{KindInjection: true, KindHiddenFromUser: true}

var quoteCues = []string{
	"such as", "e.g", "i.e", "for example", "for instance", "phrase", "pattern",
	"injection", "jailbreak", "attack", "detect", "flag", "catch", "block", "scan",
	"recogni", "classif", "filter",
}

func isQuote(c byte) bool { return c == '"' || c == '\'' || c == '`' }

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c >= 0x80
}

// quotedMention reports whether text[start:end] is a quoted example.
func quotedMention(text string, start, end int) bool {
	open := -1
	for k := start - 1; k >= 0 && start-k <= 24; k-- {
		if isQuote(text[k]) {
			open = k
			break
		}
		if text[k] == '.' || text[k] == '!' || text[k] == '?' {
			return false
		}
	}
	if open < 0 || open > 0 && isWordByte(text[open-1]) {
		return false
	}
	q := text[open]
	if strings.IndexByte(text[start:end], q) >= 0 && q != '\'' {
		return false
	}
	closed := -1
	for k := end; k < len(text) && k-end <= 40; k++ {
		if isQuote(text[k]) {
			if text[k] != q {
				return false
			}
			if k+1 < len(text) && isWordByte(text[k+1]) { // an apostrophe: "user's"
				continue
			}
			closed = k
			break
		}
	}
	if closed < 0 || closed-open > 120 {
		return false
	}
	// The cue: the same sentence, before the quote.
	from := max(0, open-160)
	before := text[from:open]
	if k := strings.LastIndexAny(before, "!?"); k >= 0 {
		before = before[k+1:]
	}
	if k := lastSentenceDot(before); k >= 0 {
		before = before[k+1:]
	}
	return containsAny(strings.ToLower(before), quoteCues)
}

// lastSentenceDot finds the last '.' that ends a sentence (followed by a
// space and not part of "e.g." or "i.e.").
func lastSentenceDot(s string) int {
	for k := len(s) - 1; k >= 0; k-- {
		if s[k] != '.' || k+1 < len(s) && s[k+1] != ' ' {
			continue
		}
		if k >= 3 && (strings.EqualFold(s[k-3:k+1], "e.g.") || strings.EqualFold(s[k-3:k+1], "i.e.")) {
			continue
		}
		return k
	}
	return -1
}
