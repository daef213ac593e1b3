package poison

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
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
// controls, ANSI escapes, or an uninspected part. Unknown kinds count as
// severe so that a kind added later fails closed.
func Severe(fs []Finding) bool {
	for _, f := range fs {
		if f.Kind != KindInvisible {
			return true
		}
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
func ScanText(field, s string, others []string) []Finding {
	text := normalize(s)
	fs := matchPatterns(field, text)
	return append(fs, shadowing(field, text, others)...)
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
// it. It cleans and scans the top-level "name", "title", "description" and
// "annotations.title", and every "description"/"title" string nested in
// "inputSchema", "outputSchema" and a prompt's "arguments". Parameter names,
// prompt argument names and enum/const/default/examples strings are scanned
// too but never rewritten: they are the call contract, and renaming a
// parameter would break the calls the model makes.
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
	if !gjson.ValidBytes(raw) {
		return raw, nil
	}
	root := gjson.ParseBytes(raw)
	if !root.IsObject() {
		return raw, nil
	}
	w := &walker{src: raw, others: othersExcept(others, root.Get("name").String())}
	w.item(root)
	return w.apply(), w.fs
}

// othersExcept drops the item's own name: a tool may mention itself.
func othersExcept(others []string, self string) []string {
	self, _ = clean(self)
	out := make([]string, 0, len(others))
	for _, o := range others {
		if !strings.EqualFold(strings.TrimSpace(o), self) {
			out = append(out, o)
		}
	}
	return out
}

type edit struct {
	start, end int
	repl       []byte
}

type walker struct {
	src    []byte
	others []string
	edits  []edit
	fs     []Finding
	deep   bool // a too_deep finding was already made
}

// node is a container waiting to be walked.
type node struct {
	path  string
	v     gjson.Result
	depth int
	args  bool // elements are prompt arguments
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

func (w *walker) item(root gjson.Result) {
	var stack []node
	root.ForEach(func(k, v gjson.Result) bool {
		key := k.String()
		p := join("", key)
		switch key {
		case "name":
			w.text(p, v, true)
		case "title", "description":
			w.text(p, v, false)
		case "annotations":
			if v.IsObject() {
				v.ForEach(func(ak, av gjson.Result) bool {
					if ak.String() == "title" {
						w.text(join(p, "title"), av, false)
					}
					return true
				})
			}
		case "inputSchema", "outputSchema":
			stack = append(stack, node{path: p, v: v, depth: 1})
		case "arguments":
			stack = append(stack, node{path: p, v: v, depth: 1, args: true})
		}
		return true
	})
	// A stack pops last-in first; reversing each batch keeps findings in
	// document order.
	slices.Reverse(stack)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		kids := w.visit(n)
		slices.Reverse(kids)
		stack = append(stack, kids...)
	}
}

// visit handles one container and returns its child containers.
func (w *walker) visit(n node) []node {
	if !n.v.IsObject() && !n.v.IsArray() {
		return nil
	}
	if n.depth > MaxDepth {
		if !w.deep {
			w.deep = true
			w.fs = append(w.fs, Finding{Kind: KindTooDeep, Field: n.path,
				Detail: fmt.Sprintf("nested deeper than %d levels; not inspected", MaxDepth)})
		}
		return nil
	}
	var kids []node
	push := func(p string, v gjson.Result, args bool) {
		if v.IsObject() || v.IsArray() {
			kids = append(kids, node{path: p, v: v, depth: n.depth + 1, args: args})
		}
	}
	if n.v.IsArray() {
		i := 0
		n.v.ForEach(func(_, v gjson.Result) bool {
			p := join(n.path, strconv.Itoa(i))
			i++
			if n.args && v.IsObject() {
				w.argument(p, v, n.depth+1, &kids)
				return true
			}
			push(p, v, false)
			return true
		})
		return kids
	}
	n.v.ForEach(func(k, v gjson.Result) bool {
		key := k.String()
		p := join(n.path, key)
		switch {
		case (key == "description" || key == "title") && v.Type == gjson.String:
			w.text(p, v, false)
		case key == "properties" && v.IsObject():
			if n.depth+1 > MaxDepth {
				push(p, v, false) // reported as too deep when popped
				return true
			}
			v.ForEach(func(pk, pv gjson.Result) bool {
				pp := join(p, pk.String())
				w.contract(pp, pk.String(), "parameter name", true)
				if pv.IsObject() || pv.IsArray() {
					kids = append(kids, node{path: pp, v: pv, depth: n.depth + 2})
				}
				return true
			})
		case key == "enum" || key == "examples":
			if v.Type == gjson.String {
				w.contract(p, v.String(), key+" value", false)
				return true
			}
			if v.IsArray() {
				i := 0
				v.ForEach(func(_, e gjson.Result) bool {
					if e.Type == gjson.String {
						w.contract(join(p, strconv.Itoa(i)), e.String(), key+" value", false)
					}
					i++
					return true
				})
			}
		case key == "const" || key == "default":
			if v.Type == gjson.String {
				w.contract(p, v.String(), key+" value", false)
			}
		default:
			push(p, v, false)
		}
		return true
	})
	return kids
}

// argument handles one element of a prompt's "arguments" array.
func (w *walker) argument(path string, v gjson.Result, depth int, kids *[]node) {
	v.ForEach(func(k, m gjson.Result) bool {
		key := k.String()
		p := join(path, key)
		switch {
		case key == "name" && m.Type == gjson.String:
			w.contract(p, m.String(), "argument name", true)
		case (key == "description" || key == "title") && m.Type == gjson.String:
			w.text(p, m, false)
		case m.IsObject() || m.IsArray():
			*kids = append(*kids, node{path: p, v: m, depth: depth + 1})
		}
		return true
	})
}

// text cleans and scans one string value that CheckItem may rewrite. Names
// are scanned as words and not for shadowing: a name equal to another
// server's tool is a collision, not an instruction.
func (w *walker) text(path string, v gjson.Result, isName bool) {
	if v.Type != gjson.String {
		return
	}
	s := v.String()
	cleaned, fs := CleanText(path, s)
	w.fs = append(w.fs, fs...)
	if cleaned != s {
		w.replace(v, cleaned)
	}
	if isName {
		w.fs = append(w.fs, ScanText(path, splitWords(cleaned), nil)...)
		return
	}
	w.fs = append(w.fs, ScanText(path, cleaned, w.others)...)
}

// contract scans a string that is part of the call contract; it is reported
// but left as it is.
func (w *walker) contract(path, s, what string, isName bool) {
	cleaned, st := clean(s)
	w.fs = append(w.fs, st.findings(path, what)...)
	scan := cleaned
	if isName {
		scan = splitWords(cleaned)
	}
	for _, f := range ScanText(path, scan, nil) {
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
