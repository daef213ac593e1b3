package register

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// TOML (Codex's config.toml) is edited line by line: the entry's table
// [mcp_servers.<name>] is found among the file's table headers, its managed
// keys are replaced or added, and everything else (comments included) is
// left as it was. The TOML libraries re-encode a whole document, which
// would lose the user's comments and order.

// tomlLine is one line of a TOML file, classified.
type tomlLine struct {
	text string
	// header is the key path of a [table] or [[array]] header line.
	header []string
	// key is the key path of a line that starts a key = value statement.
	key []string
	// cont says the line continues the statement above it (a multi-line
	// array, inline table or string).
	cont bool
}

// scanTOML classifies each line. It follows strings, comments and bracket
// depth so that a line of a multi-line value is never taken for a header.
func scanTOML(text string) []tomlLine {
	raw := strings.SplitAfter(text, "\n")
	if raw[len(raw)-1] == "" {
		raw = raw[:len(raw)-1]
	}
	lines := make([]tomlLine, len(raw))
	depth, ml := 0, "" // bracket depth, open multi-line string delimiter
	for i, l := range raw {
		lines[i].text = l
		trimmed := strings.TrimSpace(l)
		switch {
		case ml != "" || depth > 0:
			lines[i].cont = true
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
			continue
		case strings.HasPrefix(trimmed, "["):
			inner := strings.TrimPrefix(trimmed, "[[")
			if inner == trimmed {
				inner = strings.TrimPrefix(trimmed, "[")
			}
			if end := strings.Index(inner, "]"); end >= 0 {
				lines[i].header = parseKeyPath(inner[:end])
			}
			continue
		default:
			if eq := strings.Index(trimmed, "="); eq > 0 {
				lines[i].key = parseKeyPath(trimmed[:eq])
			}
		}
		depth, ml = scanValue(l, depth, ml)
	}
	return lines
}

// scanValue follows one line of a statement: string delimiters, comments
// and brackets.
func scanValue(l string, depth int, ml string) (int, string) {
	for i := 0; i < len(l); i++ {
		if ml != "" {
			if strings.HasPrefix(l[i:], ml) {
				i += len(ml) - 1
				ml = ""
			} else if ml == `"""` && l[i] == '\\' {
				i++
			}
			continue
		}
		switch c := l[i]; {
		case strings.HasPrefix(l[i:], `"""`), strings.HasPrefix(l[i:], `'''`):
			ml = l[i : i+3]
			i += 2
		case c == '"':
			for i++; i < len(l) && l[i] != '"'; i++ {
				if l[i] == '\\' {
					i++
				}
			}
		case c == '\'':
			for i++; i < len(l) && l[i] != '\''; i++ {
			}
		case c == '#':
			return depth, ml
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
		}
	}
	return depth, ml
}

// parseKeyPath splits a dotted key (a."b.c".'d') into its parts.
func parseKeyPath(s string) []string {
	var parts []string
	s = strings.TrimSpace(s)
	for s != "" {
		var part string
		switch s[0] {
		case '"':
			end := 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(s) {
				return nil
			}
			u, err := strconv.Unquote(s[:end+1])
			if err != nil {
				return nil
			}
			part, s = u, s[end+1:]
		case '\'':
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				return nil
			}
			part, s = s[1:end+1], s[end+2:]
		default:
			end := strings.IndexByte(s, '.')
			if end < 0 {
				end = len(s)
			}
			part, s = strings.TrimSpace(s[:end]), s[end:]
		}
		parts = append(parts, part)
		s = strings.TrimSpace(s)
		if strings.HasPrefix(s, ".") {
			s = strings.TrimSpace(s[1:])
		} else if s != "" {
			return nil
		}
	}
	return parts
}

var bareKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func tomlKey(k string) string {
	if bareKey.MatchString(k) {
		return k
	}
	return quote(k)
}

// tomlValue renders a value on one line. Strings are JSON-quoted, which is
// a valid TOML basic string.
func tomlValue(v any) string {
	switch x := v.(type) {
	case string:
		return quote(x)
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = tomlValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		if len(x) == 0 {
			return "{}"
		}
		var parts []string
		for _, k := range sortedKeys(x) {
			parts = append(parts, tomlKey(k)+" = "+tomlValue(x[k]))
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	default:
		return quote(fmt.Sprint(x))
	}
}

func samePath(a []string, b ...string) bool { return reflect.DeepEqual(a, b) }

// statementEnd is the index after the statement starting at line i.
func statementEnd(lines []tomlLine, i int) int {
	j := i + 1
	for j < len(lines) && lines[j].cont {
		j++
	}
	return j
}

// tableBody is the range of lines under the header at line h.
func tableBody(lines []tomlLine, h int) (int, int) {
	j := h + 1
	for j < len(lines) && lines[j].header == nil {
		j++
	}
	return h + 1, j
}

// findHeader is the line of the [path] header, or -1.
func findHeader(lines []tomlLine, path ...string) int {
	for i, l := range lines {
		if samePath(l.header, path...) {
			return i
		}
	}
	return -1
}

// setKey replaces the statement of key in the table body [from, to), or
// adds it right after the header, and returns the lines.
func setKey(lines []tomlLine, from, to int, key, rendered, nl string) []tomlLine {
	line := tomlLine{text: tomlKey(key) + " = " + rendered + nl, key: []string{key}}
	for i := from; i < to; i++ {
		if samePath(lines[i].key, key) {
			end := statementEnd(lines, i)
			out := append(append([]tomlLine{}, lines[:i]...), line)
			return append(out, lines[end:]...)
		}
	}
	out := append(append([]tomlLine{}, lines[:from]...), line)
	return append(out, lines[from:]...)
}

func decodeTOML(path, text string) (map[string]any, error) {
	doc := map[string]any{}
	if _, err := toml.Decode(text, &doc); err != nil {
		return nil, fmt.Errorf("%s is not valid TOML: %w; fix it, or add the entry by hand", path, err)
	}
	return doc, nil
}

// mergeTOML sets [container.name] to the entry made of fields.
func mergeTOML(path string, data []byte, container, name string, fields []field) ([]byte, bool, error) {
	text := string(data)
	before, err := decodeTOML(path, text)
	if err != nil {
		return nil, false, err
	}
	servers, _ := before[container].(map[string]any)
	old, hasOld := servers[name].(map[string]any)

	want := map[string]any{}
	for k, v := range old {
		want[k] = v
	}
	for _, f := range fields {
		want[f.key] = f.value
		if f.merge {
			merged := map[string]any{}
			if prev, ok := old[f.key].(map[string]any); ok {
				for k, v := range prev {
					merged[k] = v
				}
			}
			for k, v := range f.value.(map[string]any) {
				merged[k] = v
			}
			want[f.key] = merged
		}
	}
	if hasOld && reflect.DeepEqual(old, want) {
		return data, false, nil
	}

	nl := "\n"
	if strings.Contains(text, "\r\n") {
		nl = "\r\n"
	}
	lines := scanTOML(text)
	h := findHeader(lines, container, name)
	if h < 0 && hasOld {
		return nil, false, fmt.Errorf("%s: the %q entry is not written as a [%s.%s] table, which is what this command edits; replace it by hand with the entry printed without --write", path, name, container, tomlKey(name))
	}
	if h < 0 {
		var b strings.Builder
		b.WriteString(text)
		if text != "" {
			if !strings.HasSuffix(text, "\n") {
				b.WriteString(nl)
			}
			b.WriteString(nl)
		}
		b.WriteString("[" + container + "." + tomlKey(name) + "]" + nl)
		for _, f := range fields {
			b.WriteString(tomlKey(f.key) + " = " + tomlValue(f.value) + nl)
		}
		return checkTOML(path, before, b.String(), container, name, want)
	}
	// Managed keys go after the header in field order, or where they were.
	for i := len(fields) - 1; i >= 0; i-- {
		f := fields[i]
		if f.merge {
			if sub := findHeader(lines, container, name, f.key); sub >= 0 {
				from, to := tableBody(lines, sub)
				for _, k := range sortedKeys(f.value.(map[string]any)) {
					lines = setKey(lines, from, to, k, tomlValue(f.value.(map[string]any)[k]), nl)
					from, to = tableBody(lines, sub)
				}
				continue
			}
		}
		from, to := tableBody(lines, h)
		lines = setKey(lines, from, to, f.key, tomlValue(want[f.key]), nl)
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.text)
	}
	return checkTOML(path, before, b.String(), container, name, want)
}

// checkTOML is verifyJSON for TOML: out must hold the wanted entry and,
// apart from it, what the file held before.
func checkTOML(path string, before map[string]any, out, container, name string, want map[string]any) ([]byte, bool, error) {
	after, err := decodeTOML(path, out)
	if err != nil {
		return nil, false, fmt.Errorf("%s: the merged file would not parse (%v); nothing written: add the entry by hand", path, err)
	}
	servers, _ := after[container].(map[string]any)
	if !reflect.DeepEqual(servers[name], want) {
		return nil, false, fmt.Errorf("%s: the merged entry would not read back as written (is it also set elsewhere in the file?); nothing written: edit it by hand", path)
	}
	if !reflect.DeepEqual(withoutEntry(before, container, name, true), withoutEntry(after, container, name, true)) {
		return nil, false, fmt.Errorf("%s: merging would change other entries; nothing written (please report this)", path)
	}
	return []byte(out), true, nil
}
