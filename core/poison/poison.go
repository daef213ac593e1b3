package poison

// Finding is one thing a check found in an item's text.
type Finding struct {
	Kind   string `json:"kind"`   // one of the Kind constants
	Field  string `json:"field"`  // "name", "description", or a gjson-style path such as "inputSchema.properties.path.description"
	Detail string `json:"detail"` // one line for a person: what matched, quoted, short, control characters escaped
}

// Kinds of removed characters. CheckItem and CleanText delete these.
const (
	// KindInvisible: zero-width and other format characters, and stray C0/C1
	// control characters. Removed; not severe on its own, because zero-width
	// joiners and soft hyphens turn up in honest text (emoji, Persian).
	KindInvisible = "invisible"
	// KindSmuggled: Unicode tag characters or supplementary variation
	// selectors, which carry a hidden byte message (ASCII smuggling). The
	// Detail holds the decoded message.
	KindSmuggled = "smuggled_text"
	// KindBidi: bidirectional controls, which reorder what a person sees.
	KindBidi = "bidi_control"
	// KindANSI: terminal escape sequences, which can conceal text in
	// terminal clients (Trail of Bits, "Deceiving users with ANSI terminal
	// codes in MCP").
	KindANSI = "ansi_escape"
)

// Kinds of flagged phrases. These are reported, never rewritten.
const (
	KindInjection      = "injection"        // override earlier instructions, jump the line
	KindHiddenFromUser = "hidden_from_user" // keep the user from knowing
	KindMarkup         = "markup"           // <IMPORTANT>, <SYSTEM>, [INST], <|im_start|> …
	KindSensitiveFile  = "sensitive_file"   // ~/.ssh, id_rsa, ~/.aws, ~/.cursor/mcp.json …
	KindExfiltration   = "exfiltration"     // smuggle data out through a parameter, address or URL
	KindShadowing      = "shadowing"        // names or steers another server's tool
)

// KindTooDeep marks a part of an item nested deeper than MaxDepth, which
// CheckItem did not inspect. It is severe: an unread part must not pass as
// clean, and honest schemas never nest that deep.
const KindTooDeep = "too_deep"

// MaxDepth bounds how deep CheckItem walks into an item (the item object is
// depth 0). The walk is iterative, so the bound is about work, not stack.
const MaxDepth = 64

// Removed reports whether findings of kind describe characters that were
// (or, for parameter names, would have been) deleted rather than flagged.
func Removed(kind string) bool {
	switch kind {
	case KindInvisible, KindSmuggled, KindBidi, KindANSI:
		return true
	}
	return false
}

// Severe reports whether findings hold anything beyond removed zero-width
// or stray control characters: any phrase finding, smuggled text, bidi
// controls, ANSI escapes, an encoded payload, many private-use characters,
// or an uninspected part. Unknown kinds count as
// severe so that a kind added later fails closed.
//
// Two kinds are not severe either: a quoted example of a phrase
// (KindQuoted), and private-use characters fewer than privateUseSevere in
// one string, which is how icon fonts use them (the count is read from the
// Detail; one that cannot be read counts as severe).
func Severe(fs []Finding) bool {
	for _, f := range fs {
		switch f.Kind {
		case KindInvisible, KindQuoted:
			continue
		case KindPrivateUse:
			if n, ok := privateUseCount(f.Detail); ok && n < privateUseSevere {
				continue
			}
		}
		return true
	}
	return false
}

// CleanText removes the invisible characters from s and reports them, one
// finding per class, with field put in each Finding. When nothing is
// removed it returns s itself and no findings.
func CleanText(field, s string) (string, []Finding) {
	out, st := clean(s)
	return out, st.findings(field, "")
}

// ScanText flags injection patterns in s. others are names the text must not
// name: other servers' tool names, exposed ("github.create_issue") or bare
// ("send_email"). A name counts only when it is distinctive: at least six
// bytes and containing '_', '.' or '-'. It then matches as a whole token or
// as the tail of a prefixed one ("mcp_tool_send_email"), case-insensitively.
// Callers should leave out names the item's own server exposes: a server
// documenting its own tools is not shadowing.
//
// ScanText also reports private-use characters (KindPrivateUse) and base64
// or hex runs whose decoded text matches a phrase pattern or a shell
// command (KindEncoded); quoted examples of a phrase come back as
// KindQuoted.
func ScanText(field, s string, others []string) []Finding {
	fs := scanPhrases(field, s, NewNames(others), "")
	return append(fs, scanChars(field, s, &budget{})...)
}

// scanPhrases is the phrase and shadowing part of ScanText; self is the
// item's own name, which it may name.
func scanPhrases(field, s string, others *Names, self string) []Finding {
	text := normalize(s)
	fs := matchPatterns(field, text)
	return append(fs, shadowing(field, text, others, self)...)
}
