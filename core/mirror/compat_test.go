package mirror

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCompatSchema(t *testing.T) {
	for name, c := range map[string]struct{ in, want string }{
		"plain schema untouched": {
			`{"type":"object","properties":{"a":{"type":"string"}}}`,
			`{"type":"object","properties":{"a":{"type":"string"}}}`,
		},
		"refs inlined": {
			`{"type":"object","properties":{"p":{"$ref":"#/$defs/Point","description":"where"}},"$defs":{"Point":{"type":"object","properties":{"x":{"type":"number"}}}}}`,
			`{"properties":{"p":{"description":"where","properties":{"x":{"type":"number"}},"type":"object"}},"type":"object"}`,
		},
		"recursive ref": {
			`{"type":"object","properties":{"n":{"$ref":"#/definitions/Node"}},"definitions":{"Node":{"type":"object","properties":{"next":{"$ref":"#/definitions/Node"}}}}}`,
			"",
		},
		"allOf merged": {
			`{"allOf":[{"properties":{"a":{"type":"string"}},"required":["a"]},{"properties":{"b":{"type":"number"}},"required":["b"]}]}`,
			`{"properties":{"a":{"type":"string"},"b":{"type":"number"}},"required":["a","b"],"type":"object"}`,
		},
		"oneOf flattened": {
			`{"oneOf":[{"properties":{"id":{"type":"string"},"q":{"type":"string"}},"required":["id"]},{"properties":{"url":{"type":"string"}},"required":["url"]}]}`,
			`{"description":"Arguments take one of 2 forms (required: id | url).","properties":{"id":{"type":"string"},"q":{"type":"string"},"url":{"type":"string"}},"type":"object"}`,
		},
	} {
		out, changed, err := CompatSchema(json.RawMessage(c.in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if strings.Contains(string(out), "$ref") || strings.Contains(string(out), "$defs") || strings.Contains(string(out), "oneOf") {
			t.Errorf("%s: still has what strict clients refuse: %s", name, out)
		}
		if c.want != "" && string(out) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", name, out, c.want)
		}
		if changed != (c.in != c.want) {
			t.Errorf("%s: changed %v", name, changed)
		}
	}
}

// The arguments of a tool whose schema was rewritten are checked against
// the original: draft-07 (definitions) and 2020-12 ($defs) references, a
// top-level oneOf, formats and patterns.
func TestCheckArgs(t *testing.T) {
	for _, tc := range []struct {
		name, schema string
		fit, misfit  []string
	}{{
		name:   "draft-07",
		schema: `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"id":{"$ref":"#/definitions/id"},"n":{"type":"integer","minimum":1}},"required":["id"],"definitions":{"id":{"type":"string","pattern":"^[a-z]+$"}}}`,
		fit:    []string{`{"id":"abc"}`, `{"id":"abc","n":2}`},
		misfit: []string{`{}`, `{"id":"ABC"}`, `{"id":"abc","n":0}`, `{"id":"abc","n":1.5}`},
	}, {
		name:   "definitions without $schema",
		schema: `{"type":"object","properties":{"id":{"$ref":"#/definitions/id"}},"required":["id"],"definitions":{"id":{"type":"string","maxLength":3}}}`,
		fit:    []string{`{"id":"abc"}`},
		misfit: []string{`{"id":"abcd"}`, `{"id":1}`},
	}, {
		name:   "2020-12 oneOf",
		schema: `{"type":"object","oneOf":[{"properties":{"id":{"$ref":"#/$defs/id"}},"required":["id"]},{"properties":{"url":{"type":"string"}},"required":["url"]}],"$defs":{"id":{"type":"string","pattern":"^[a-z]+$"}}}`,
		fit:    []string{`{"id":"abc"}`, `{"url":"x"}`},
		misfit: []string{`{}`, `{"id":"ABC"}`, `{"id":"abc","url":"x"}`},
	}} {
		tool := Tool{check: &argsCheck{schema: json.RawMessage(tc.schema)}}
		for _, a := range tc.fit {
			if err := tool.CheckArgs(json.RawMessage(a)); err != nil {
				t.Errorf("%s: %s: %v", tc.name, a, err)
			}
		}
		for _, a := range tc.misfit {
			if err := tool.CheckArgs(json.RawMessage(a)); err == nil || !strings.Contains(err.Error(), "do not fit") {
				t.Errorf("%s: %s fits: %v", tc.name, a, err)
			}
		}
	}
	if err := (Tool{check: &argsCheck{schema: json.RawMessage(`{"type":"object"}`)}}).CheckArgs(json.RawMessage(`{"a":`)); err == nil {
		t.Error("arguments that are not JSON fit")
	}
}
