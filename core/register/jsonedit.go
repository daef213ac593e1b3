package register

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/tidwall/gjson"
)

// Editing JSON by hand rather than with sjson: sjson keeps the rest of a
// document intact too, but writes what it inserts without the file's
// indentation (`,"name":{...}}` after the last member), and a config file
// is read by people.

// jsonStyle is how a file is laid out, so that what is inserted looks like
// the rest.
type jsonStyle struct {
	nl, unit string // "" and "" for a file on one line
}

func detectStyle(data []byte) jsonStyle {
	if !bytes.Contains(data, []byte("\n")) {
		return jsonStyle{}
	}
	st := jsonStyle{nl: "\n", unit: "  "}
	if bytes.Contains(data, []byte("\r\n")) {
		st.nl = "\r\n"
	}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		trimmed := strings.TrimLeft(line, " \t")
		if trimmed != "" && len(trimmed) < len(line) {
			st.unit = line[:len(line)-len(trimmed)]
			break
		}
	}
	return st
}

func (st jsonStyle) indent(depth int) string { return strings.Repeat(st.unit, depth) }

func (st jsonStyle) colon() string {
	if st.nl == "" {
		return ":"
	}
	return ": "
}

// value renders v as it would appear at depth.
func (st jsonStyle) value(v any, depth int) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if st.nl != "" {
		enc.SetIndent(st.indent(depth), st.unit)
	}
	_ = enc.Encode(v) // maps, slices, strings and bools always encode
	out := strings.TrimRight(b.String(), "\n")
	if st.nl == "\r\n" {
		out = strings.ReplaceAll(out, "\n", "\r\n")
	}
	return out
}

// member is one key of an object and its value's text.
type member struct{ key, raw string }

// object renders members as an object at depth.
func (st jsonStyle) object(ms []member, depth int) string {
	if len(ms) == 0 {
		return "{}"
	}
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = st.nl + st.indent(depth+1) + quote(m.key) + st.colon() + m.raw
	}
	return "{" + strings.Join(parts, ",") + st.nl + st.indent(depth) + "}"
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// lookup finds key in an object (the last one, as encoding/json does with
// duplicates), with its value's offset in the file.
func lookup(obj gjson.Result, key string) (gjson.Result, bool) {
	var found gjson.Result
	ok := false
	obj.ForEach(func(k, v gjson.Result) bool {
		if k.Str == key {
			found, ok = v, true
		}
		return true
	})
	return found, ok
}

// insertMember adds key: raw to the object whose text starts at offset at
// and runs for n bytes, as its last member.
func (st jsonStyle) insertMember(data []byte, at, n, depth int, key, raw string) []byte {
	end := at + n - 1 // the closing brace
	j := end - 1
	for j > at && isSpace(data[j]) {
		j--
	}
	add := st.nl + st.indent(depth+1) + quote(key) + st.colon() + raw
	var out []byte
	out = append(out, data[:j+1]...)
	if data[j] == '{' {
		out = append(out, add+st.nl+st.indent(depth)...)
		out = append(out, data[end:]...)
		return out
	}
	out = append(out, ","+add...)
	out = append(out, data[j+1:]...)
	return out
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// syntaxError words a JSON parse error with its line and column.
func syntaxError(path string, data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := 1, 1
		for _, c := range data[:min(int(se.Offset), len(data))] {
			if c == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		return fmt.Errorf("%s is not plain JSON (line %d, column %d: %v); comments are not supported: fix it, or add the entry by hand", path, line, col, se)
	}
	return fmt.Errorf("%s is not valid JSON: %w", path, err)
}

func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// managedValue is a managed key's new value: fresh, or for a merged object
// the existing members with the proxy's on top.
func managedValue(f field, existing gjson.Result, present bool) any {
	if !f.merge || !present || !existing.IsObject() {
		return f.value
	}
	old, err := decodeJSON([]byte(existing.Raw))
	if err != nil {
		return f.value
	}
	merged := old.(map[string]any)
	for k, v := range f.value.(map[string]any) {
		merged[k] = v
	}
	return merged
}

// mergeJSON sets container.name to the entry made of fields in data and
// says whether that changed anything. path names the file in errors.
func mergeJSON(path string, data []byte, skeleton, container, name string, fields []field) ([]byte, bool, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		if skeleton == "" {
			skeleton = "{}\n"
		}
		data = []byte(skeleton)
	}
	before, err := decodeJSON(data)
	if err != nil || !json.Valid(data) {
		if err == nil {
			err = json.Unmarshal(data, new(any))
		}
		return nil, false, syntaxError(path, data, err)
	}
	beforeObj, ok := before.(map[string]any)
	if !ok {
		return nil, false, fmt.Errorf("%s does not hold a JSON object", path)
	}

	lead := len(data) - len(bytes.TrimLeft(data, " \t\r\n\ufeff"))
	rootEnd := bytes.LastIndexByte(data, '}')
	root := gjson.ParseBytes(data[lead : rootEnd+1])
	offset := func(r gjson.Result) int { return r.Index + lead }

	cont, hasCont := lookup(root, container)
	if hasCont && !cont.IsObject() {
		return nil, false, fmt.Errorf("%s: %q is not an object; fix it first", path, container)
	}
	// A value under the name that is not an object is replaced whole.
	old, hasName := gjson.Result{}, false
	if hasCont {
		old, hasName = lookup(cont, name)
	}
	hasOld := hasName && old.IsObject()

	st := detectStyle(data)
	// The entry's members: the existing ones in their order (managed keys
	// get their new value), then the managed keys it lacked.
	want := map[string]any{}
	var ms []member
	byKey := map[string]field{}
	for _, f := range fields {
		byKey[f.key] = f
	}
	seen := map[string]bool{}
	if hasOld {
		old.ForEach(func(k, v gjson.Result) bool {
			if seen[k.Str] {
				return true
			}
			seen[k.Str] = true
			if f, managed := byKey[k.Str]; managed {
				val := managedValue(f, v, true)
				want[k.Str] = val
				ms = append(ms, member{k.Str, st.value(val, 3)})
				return true
			}
			val, _ := decodeJSON([]byte(v.Raw))
			want[k.Str] = val
			ms = append(ms, member{k.Str, v.Raw})
			return true
		})
	}
	for _, f := range fields {
		if !seen[f.key] {
			want[f.key] = f.value
			ms = append(ms, member{f.key, st.value(f.value, 3)})
		}
	}
	wantNorm, _ := decodeJSON([]byte(st.value(want, 0)))
	if hasOld {
		if cur, err := decodeJSON([]byte(old.Raw)); err == nil && reflect.DeepEqual(cur, wantNorm) {
			return data, false, nil
		}
	}

	var out []byte
	switch {
	case hasName:
		at := offset(old)
		out = append(append(append([]byte{}, data[:at]...), st.object(ms, 2)...), data[at+len(old.Raw):]...)
	case hasCont:
		out = st.insertMember(data, offset(cont), len(cont.Raw), 1, name, st.object(ms, 2))
	default:
		inner := st.object([]member{{name, st.object(ms, 2)}}, 1)
		out = st.insertMember(data, lead, rootEnd+1-lead, 0, container, inner)
	}
	if err := verifyJSON(path, beforeObj, out, container, name, wantNorm); err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// verifyJSON checks that out holds the wanted entry and, apart from it,
// exactly what the file held before.
func verifyJSON(path string, before map[string]any, out []byte, container, name string, want any) error {
	after, err := decodeJSON(out)
	if err != nil || !json.Valid(out) {
		return fmt.Errorf("%s: the merged file would not parse; nothing written (please report this)", path)
	}
	afterObj, _ := after.(map[string]any)
	servers, _ := afterObj[container].(map[string]any)
	if !reflect.DeepEqual(servers[name], want) {
		return fmt.Errorf("%s: the merged entry would not read back as written; nothing written (please report this)", path)
	}
	_, had := before[container]
	if !reflect.DeepEqual(withoutEntry(before, container, name, false), withoutEntry(afterObj, container, name, !had)) {
		return fmt.Errorf("%s: merging would change other entries; nothing written (please report this)", path)
	}
	return nil
}

// withoutEntry is a shallow copy of a parsed config without the entry
// container.name, and without the container itself when dropEmpty and
// nothing else is in it: what must not change when the entry is merged.
func withoutEntry(doc map[string]any, container, name string, dropEmpty bool) map[string]any {
	cp := make(map[string]any, len(doc))
	for k, v := range doc {
		cp[k] = v
	}
	if s, ok := cp[container].(map[string]any); ok {
		rest := make(map[string]any, len(s))
		for k, v := range s {
			if k != name {
				rest[k] = v
			}
		}
		cp[container] = rest
		if dropEmpty && len(rest) == 0 {
			delete(cp, container)
		}
	}
	return cp
}

// sortedKeys lists a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
