package poison

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

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

// CheckItem checks one tool, prompt or resource object as the server sent
// it. The proxy forwards the whole object, so CheckItem walks all of it, to
// MaxDepth: every string value, whatever its member's name (top-level
// "_meta", "annotations", "icons", "x-…" or "$comment" members, every schema
// keyword, every array element), and every object key.
//
//   - A string value loses its invisible characters and is scanned for the
//     phrase patterns.
//   - Values that are part of the call contract are scanned and their
//     invisible characters reported, but they are never rewritten: inside
//     "inputSchema" and "outputSchema", the enum, const, default, examples
//     and dependentRequired values (to any depth), "required" entries,
//     "pattern" and the $ref, $dynamicRef, $id, $anchor and $dynamicAnchor
//     references; a prompt argument's "name"; a resource's "uri" or
//     "uriTemplate". Changing them would change what the model sends, what
//     a validator accepts or what the client asks the server for.
//   - Object keys are scanned as words ("readSshKey" reads "read Ssh Key")
//     and reported likewise, never rewritten: renaming a parameter would
//     break the calls the model makes.
//   - The top-level "name" is cleaned and scanned as words.
//   - Prose is also checked for other servers' tool names (shadowing): a
//     "description" or "title", and any other value holding whitespace.
//     Names, keys and one-token values (an identifier, an enum member, a
//     MIME type, a URL) are not: a token equal to another server's tool
//     name is a collision, not an instruction.
//
// The result is raw itself when nothing was removed; otherwise only the
// changed string values differ. Input that is not a valid JSON object is
// returned unchanged with no findings.
//
// Changed values are spliced in at the byte offsets gjson reports rather
// than set through sjson paths: a path resolves to the first of duplicate
// keys, while Go's encoding/json (and JavaScript) keep the last, so a server
// sending {"description":"ok","description":"<smuggled>"} would slip past a
// path-based rewrite. Splicing rewrites every occurrence and needs no path
// escaping; Field paths are still escaped with gjson.Escape for people.
func CheckItem(raw []byte, others []string) ([]byte, []Finding) {
	return CheckItemNames(raw, NewNames(others))
}

// CheckItemNames is CheckItem with others indexed once (NewNames), for
// checking the many items of a listing against the same names.
func CheckItemNames(raw []byte, others *Names) ([]byte, []Finding) {
	if !gjson.ValidBytes(raw) {
		return raw, nil
	}
	root := gjson.ParseBytes(raw)
	if !root.IsObject() {
		return raw, nil
	}
	self, _ := clean(root.Get("name").String())
	w := &walker{src: raw, others: others, self: strings.TrimSpace(self)}
	w.walk(root)
	return w.apply(), w.fs
}

type edit struct {
	start, end int
	repl       []byte
}

type walker struct {
	src    []byte
	others *Names
	self   string // the item's name, which it may name
	edits  []edit
	fs     []Finding
	deep   bool   // a too_deep finding was already made
	budget budget // decoding done so far (see encoded)
}

// role says how the walk treats a value: what its keys are, whether its
// strings may be rewritten.
type role uint8

const (
	roleMembers  role = iota // an object of members or keywords, or a plain array
	roleNames                // a schema's map from names to schemas ("properties", "$defs" …)
	roleContract             // (inside) a value of the call contract: reported, never rewritten
	roleArgs                 // a prompt's "arguments" array
	roleArg                  // one prompt argument
)

// node is a value the walk has reached.
type node struct {
	path   string
	v      gjson.Result
	depth  int // the item object is 0
	role   role
	schema bool   // inside "inputSchema" or "outputSchema"
	what   string // roleNames: what the keys are; roleContract: what the strings are
	words  bool   // roleContract: an identifier, scanned as words
}

// contractKeywords are the schema keywords whose values are part of the
// call contract (see CheckItem).
var contractKeywords = map[string]bool{
	"enum": true, "const": true, "default": true, "examples": true,
	"required": true, "dependentRequired": true, "pattern": true,
	"$ref": true, "$dynamicRef": true, "$id": true, "$anchor": true, "$dynamicAnchor": true,
}

// nameMaps are the schema keywords whose object maps names to schemas, and
// what to call those names in a finding.
var nameMaps = map[string]string{
	"properties":        "parameter name",
	"patternProperties": "property pattern",
	"$defs":             "definition name",
	"definitions":       "definition name",
	"dependentSchemas":  "parameter name",
}

// quiet lists the JSON Schema keywords, MCP member names and schema type
// names that make up most keys and many values of every item. Each is
// printable ASCII, matches no pattern and cannot be a distinctive tool name
// (TestQuiet), so the walk skips them as keys and as one-token values.
var quiet = set(`
	type description title properties required items enum const default
	examples format pattern minimum maximum exclusiveMinimum exclusiveMaximum
	multipleOf minLength maxLength minItems maxItems uniqueItems
	minProperties maxProperties additionalProperties patternProperties
	propertyNames additionalItems prefixItems contains minContains
	maxContains unevaluatedProperties unevaluatedItems dependentRequired
	dependentSchemas allOf anyOf oneOf not if then else $schema $id $ref
	$defs definitions $anchor $comment readOnly writeOnly deprecated
	contentEncoding contentMediaType nullable
	name inputSchema outputSchema annotations readOnlyHint destructiveHint
	idempotentHint openWorldHint icons src mimeType sizes theme _meta
	arguments uri uriTemplate size audience priority lastModified
	string object integer number boolean array null`)

func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// join appends key to a gjson-style path. A key holding control or other
// non-printing characters is written Go-quoted instead ("pa\u200bth"): a
// Field is shown to people and must not carry the very characters the
// package removes. Such a Field names the key for display only.
func join(path, key string) string {
	comp := gjson.Escape(key)
	if !printable(key) {
		comp = strconv.Quote(key)
	}
	if path == "" {
		return comp
	}
	return path + "." + comp
}

func printable(s string) bool {
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}

// walk visits the item depth-first without recursion. A stack pops
// last-in first; reversing each batch keeps findings in document order.
func (w *walker) walk(root gjson.Result) {
	stack := []node{{v: root}}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		kids := w.visit(n)
		slices.Reverse(kids)
		stack = append(stack, kids...)
	}
}

// visit checks the keys and string values of one object or array and
// returns its child objects and arrays.
func (w *walker) visit(n node) []node {
	if n.depth > MaxDepth {
		if !w.deep {
			w.deep = true
			w.fs = append(w.fs, Finding{Kind: KindTooDeep, Field: n.path,
				Detail: fmt.Sprintf("nested deeper than %d levels; not inspected", MaxDepth)})
		}
		return nil
	}
	var kids []node
	if n.v.IsArray() {
		i := 0
		n.v.ForEach(func(_, v gjson.Result) bool {
			c := node{path: join(n.path, strconv.Itoa(i)), v: v, depth: n.depth + 1, schema: n.schema}
			i++
			switch {
			case n.role == roleContract:
				c.role, c.what, c.words = roleContract, n.what, n.words
			case n.role == roleArgs && v.IsObject():
				c.role = roleArg
			}
			w.member(c, "", &kids)
			return true
		})
		return kids
	}
	keys := "key"
	if n.role == roleNames {
		keys = n.what
	}
	n.v.ForEach(func(k, v gjson.Result) bool {
		key := k.String()
		c := node{path: join(n.path, key), v: v, depth: n.depth + 1, schema: n.schema}
		w.key(c.path, key, keys)
		switch {
		case n.role == roleContract:
			c.role, c.what, c.words = roleContract, n.what, n.words
		case n.depth == 0 && (key == "inputSchema" || key == "outputSchema"):
			c.schema = true
		case n.depth == 0 && key == "arguments" && v.IsArray():
			c.role = roleArgs
		case n.depth == 0 && (key == "uri" || key == "uriTemplate"):
			c.role, c.what = roleContract, key+" value"
		case n.role == roleArg && key == "name":
			c.role, c.what, c.words = roleContract, "argument name", true
		case n.schema && n.role == roleMembers && contractKeywords[key]:
			c.role, c.what = roleContract, key+" value"
		case n.schema && n.role == roleMembers && v.IsObject() && nameMaps[key] != "":
			c.role, c.what = roleNames, nameMaps[key]
		}
		w.member(c, key, &kids)
		return true
	})
	return kids
}

// member checks the string value c, or queues the container c.
func (w *walker) member(c node, key string, kids *[]node) {
	switch {
	case c.v.Type == gjson.String:
		if c.role == roleContract {
			w.contract(c.path, c.v.String(), c.what, c.words)
			return
		}
		w.text(c.path, c.v, c.depth == 1 && key == "name", key == "description" || key == "title")
	case c.v.IsObject() || c.v.IsArray():
		*kids = append(*kids, c)
	}
}

// key scans one object key, which is never rewritten.
func (w *walker) key(path, key, what string) {
	if quiet[key] {
		return
	}
	w.contract(path, key, what, true)
}

// text cleans and scans one string value that CheckItem may rewrite. Names
// are scanned as words and not for shadowing: a name equal to another
// server's tool is a collision, not an instruction. So is any other
// one-token value; prose (a description, a title, or any value holding
// whitespace) is checked for other servers' tool names.
func (w *walker) text(path string, v gjson.Result, isName, prose bool) {
	s := v.String()
	if quiet[s] {
		return
	}
	cleaned, fs := CleanText(path, s)
	w.fs = append(w.fs, fs...)
	if cleaned != s {
		w.replace(v, cleaned)
	}
	if isName {
		w.fs = append(w.fs, scanPhrases(path, splitWords(cleaned), nil, w.self)...)
	} else {
		var others *Names
		if prose || hasSpace(cleaned) {
			others = w.others
		}
		w.fs = append(w.fs, scanPhrases(path, dataHeader(cleaned), others, w.self)...)
	}
	w.fs = append(w.fs, scanChars(path, cleaned, &w.budget)...)
}

// hasSpace tells prose from a one-token value.
func hasSpace(s string) bool { return strings.IndexFunc(s, unicode.IsSpace) >= 0 }

// dataHeader cuts the payload off a base64 data URI ("data:image/png;
// base64,iVBOR…"), such as an icon's src, leaving what a person or a model
// can read. Only a payload of nothing but base64 characters goes: it holds
// no spaces or punctuation for a phrase to match, costs the most to scan of
// any value in a tool list and is encoded, which the package does not
// decode. Anything else in it keeps the whole value scanned.
func dataHeader(s string) string {
	if len(s) < 64 || !strings.HasPrefix(s, "data:") {
		return s
	}
	i := strings.IndexByte(s, ',')
	if i < 0 || !strings.HasSuffix(s[:i], ";base64") {
		return s
	}
	for j := i + 1; j < len(s); j++ {
		c := s[j]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return s
		}
	}
	return s[:i+1]
}

// contract scans a string that is part of the call contract, or a key; it
// is reported but left as it is. Names (keys, argument names) are scanned
// as words; a value that reads as prose is also checked for other servers'
// tool names.
func (w *walker) contract(path, s, what string, isName bool) {
	cleaned, st := clean(s)
	w.fs = append(w.fs, st.findings(path, what)...)
	scan := cleaned
	var others *Names
	if isName {
		scan = splitWords(cleaned)
	} else if hasSpace(cleaned) {
		others = w.others
	}
	fs := scanPhrases(path, scan, others, w.self)
	for _, f := range append(fs, scanChars(path, cleaned, &w.budget)...) {
		f.Detail = what + ": " + f.Detail
		w.fs = append(w.fs, f)
	}
}

// replace records that the string value v becomes s. Offsets come from
// gjson; the check against the source is belt and braces.
func (w *walker) replace(v gjson.Result, s string) {
	start, end := v.Index, v.Index+len(v.Raw)
	if start <= 0 || end > len(w.src) || string(w.src[start:end]) != v.Raw {
		return
	}
	w.edits = append(w.edits, edit{start: start, end: end, repl: encodeString(s)})
}

func (w *walker) apply() []byte {
	if len(w.edits) == 0 {
		return w.src
	}
	sort.Slice(w.edits, func(i, j int) bool { return w.edits[i].start < w.edits[j].start })
	out := make([]byte, 0, len(w.src))
	last := 0
	for _, e := range w.edits {
		if e.start < last { // cannot happen: string values never overlap
			continue
		}
		out = append(out, w.src[last:e.start]...)
		out = append(out, e.repl...)
		last = e.end
	}
	return append(out, w.src[last:]...)
}

// encodeString renders s as a JSON string without HTML escaping, so a
// cleaned "<b>" stays "<b>" and only the removed characters change.
func encodeString(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
