package mirror

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/google/jsonschema-go/jsonschema"
)

// Some clients refuse input schemas that JSON Schema allows: $ref and
// $defs, or oneOf / anyOf / allOf at the top instead of an object with
// properties. With ICA_MCP_PROXY_SCHEMA_COMPAT=1 the mirror rewrites such
// schemas into a plain object schema those clients take (references
// inlined, the alternatives' properties merged), and the proxy checks
// each call's arguments against the original before passing them on, so
// nothing the upstream refused before gets through now.

// maxInline bounds how deep references are inlined; a recursive schema
// becomes "any value" at that depth.
const maxInline = 8

// CompatSchema rewrites schema for strict clients. changed is false when
// the schema needed nothing.
func CompatSchema(schema json.RawMessage) (out json.RawMessage, changed bool, err error) {
	if !bytes.Contains(schema, []byte(`"$ref"`)) && !bytes.Contains(schema, []byte(`"$defs"`)) &&
		!bytes.Contains(schema, []byte(`"definitions"`)) && !topCombinator(schema) {
		return schema, false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(schema))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, false, fmt.Errorf("input schema: %w", err)
	}
	defs := map[string]any{}
	for _, key := range []string{"$defs", "definitions"} {
		if m, ok := root[key].(map[string]any); ok {
			for k, v := range m {
				defs["#/"+key+"/"+k] = v
			}
		}
		delete(root, key)
	}
	top := inline(root, defs, 0).(map[string]any)
	flattenTop(top)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(top); err != nil {
		return nil, false, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), true, nil
}

func topCombinator(schema json.RawMessage) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(schema, &top) != nil {
		return false
	}
	_, a := top["oneOf"]
	_, b := top["anyOf"]
	_, c := top["allOf"]
	return a || b || c
}

// inline replaces local references with what they point to.
func inline(v any, defs map[string]any, depth int) any {
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"].(string); ok {
			target, found := defs[ref]
			if !found || depth >= maxInline {
				// A remote or recursive reference: any value (the
				// original schema still checks the arguments).
				return map[string]any{}
			}
			merged := map[string]any{}
			if m, ok := inline(target, defs, depth+1).(map[string]any); ok {
				for k, val := range m {
					merged[k] = val
				}
			}
			for k, val := range x {
				if k != "$ref" {
					merged[k] = inline(val, defs, depth)
				}
			}
			return merged
		}
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = inline(val, defs, depth)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = inline(val, defs, depth)
		}
		return out
	}
	return v
}

// flattenTop turns top-level allOf / anyOf / oneOf into one object
// schema: allOf's branches all apply (their properties and required
// merge); of anyOf's and oneOf's, any may, so every property is offered
// and only what all branches require stays required.
func flattenTop(top map[string]any) {
	props, _ := top["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
	}
	required := stringSet(top["required"])
	if all, ok := top["allOf"].([]any); ok {
		for _, br := range all {
			if m, ok := br.(map[string]any); ok {
				mergeProps(props, m)
				for r := range stringSet(m["required"]) {
					required[r] = true
				}
			}
		}
		delete(top, "allOf")
	}
	for _, key := range []string{"anyOf", "oneOf"} {
		branches, ok := top[key].([]any)
		if !ok {
			continue
		}
		var common map[string]bool
		var forms []string
		for _, br := range branches {
			m, ok := br.(map[string]any)
			if !ok {
				continue
			}
			mergeProps(props, m)
			req := stringSet(m["required"])
			if common == nil {
				common = req
			} else {
				for r := range common {
					if !req[r] {
						delete(common, r)
					}
				}
			}
			forms = append(forms, strings.Join(sortedKeys(req), "+"))
		}
		for r := range common {
			required[r] = true
		}
		delete(top, key)
		note := fmt.Sprintf("Arguments take one of %d forms (required: %s).", len(forms), strings.Join(forms, " | "))
		if d, ok := top["description"].(string); ok && d != "" {
			note = d + " " + note
		}
		top["description"] = note
	}
	top["type"] = "object"
	top["properties"] = props
	if len(required) > 0 {
		top["required"] = sortedKeys(required)
	} else {
		delete(top, "required")
	}
}

func mergeProps(into map[string]any, branch map[string]any) {
	if p, ok := branch["properties"].(map[string]any); ok {
		for k, v := range p {
			if _, taken := into[k]; !taken {
				into[k] = v
			}
		}
	}
}

func stringSet(v any) map[string]bool {
	out := map[string]bool{}
	if list, ok := v.([]any); ok {
		for _, x := range list {
			if s, ok := x.(string); ok {
				out[s] = true
			}
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// compatDefinition rewrites the input schema inside a tool definition; it
// returns the original schema when it rewrote it.
func compatDefinition(def json.RawMessage) (json.RawMessage, json.RawMessage) {
	var m map[string]json.RawMessage
	if json.Unmarshal(def, &m) != nil || len(m["inputSchema"]) == 0 {
		return def, nil
	}
	out, changed, err := CompatSchema(m["inputSchema"])
	if err != nil || !changed {
		return def, nil
	}
	original := m["inputSchema"]
	m["inputSchema"] = out
	rewritten, err := json.Marshal(m)
	if err != nil {
		return def, nil
	}
	return rewritten, original
}

// argsCheck validates arguments against a tool's original input schema,
// compiled on first use and shared by the copies of the Tool.
type argsCheck struct {
	once   sync.Once
	schema json.RawMessage
	sch    *jsonschema.Resolved
	err    error
}

// ChecksArgs reports whether CheckArgs has anything to check: the tool's
// schema was rewritten for strict clients. Callers skip finding the
// arguments otherwise (the per-call path).
func (t Tool) ChecksArgs() bool { return t.check != nil }

// CheckArgs returns why args do not fit the tool's original input schema
// when the mirror rewrote it for strict clients; nil when they fit, or
// when the schema was not rewritten (the upstream checks its own).
func (t Tool) CheckArgs(args json.RawMessage) error {
	c := t.check
	if c == nil {
		return nil
	}
	c.once.Do(func() {
		// google/jsonschema-go (draft 2020-12 and draft-07) is the
		// validator mcp-go's types already bring; it compiles no
		// meta-schemas at start-up, which every process of the one
		// executable would pay for.
		var sch jsonschema.Schema
		if err := json.Unmarshal(c.schema, &sch); err != nil {
			c.err = err
			return
		}
		c.sch, c.err = sch.Resolve(nil)
	})
	if c.err != nil {
		return nil //nolint:nilerr // a schema the validator cannot read: leave it to the upstream
	}
	if len(args) == 0 || string(args) == "null" {
		args = json.RawMessage("{}")
	}
	// Numbers as float64, which the validator reads (not json.Number).
	dec := json.NewDecoder(bytes.NewReader(args))
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("the arguments are not valid JSON: %w", err)
	}
	if dec.More() {
		return errors.New("the arguments are not valid JSON: more than one value")
	}
	if err := c.sch.Validate(v); err != nil {
		return fmt.Errorf("the arguments do not fit the tool's input schema: %v", err)
	}
	return nil
}
