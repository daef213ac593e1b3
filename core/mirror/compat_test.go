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
