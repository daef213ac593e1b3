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

	"github.com/tidwall/gjson"
)

// Items: a tool, resource or prompt is walked member by member; its
// prose is cleaned and scanned, its call contract (names, schemas) is
// reported and never rewritten.

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
