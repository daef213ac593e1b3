package jsonrpc

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// DuplicateKey returns the path of the first member of b that appears
// twice in its object ("description", "inputSchema.properties.x"), or ""
// when there is none. Readers disagree on which of two members counts
// (gjson takes the first, encoding/json the last), so a tool defined with
// one twice could be judged by one and shown by the other: it is refused.
// b must be valid JSON within MaxDepth. It walks tokens, not recursion.
func DuplicateKey(b []byte) string {
	type frame struct {
		keys      map[string]bool // nil for an array
		expectKey bool
		key       string // the member or index being read
		index     int
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var stack []*frame
	path := func(last string) string {
		parts := make([]string, 0, len(stack))
		for _, f := range stack[:len(stack)-1] {
			parts = append(parts, f.key)
		}
		return strings.Join(append(parts, last), ".")
	}
	// value is called after a whole value (scalar or closed container)
	// was read inside the top frame.
	value := func() {
		if len(stack) == 0 {
			return
		}
		f := stack[len(stack)-1]
		if f.keys != nil {
			f.expectKey = true
		} else {
			f.index++
			f.key = strconv.Itoa(f.index)
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, &frame{keys: map[string]bool{}, expectKey: true})
			case '[':
				stack = append(stack, &frame{key: "0"})
			default:
				stack = stack[:len(stack)-1]
				value()
			}
		case string:
			if top != nil && top.keys != nil && top.expectKey {
				if top.keys[t] {
					return path(t)
				}
				top.keys[t] = true
				top.key, top.expectKey = t, false
				continue
			}
			value()
		default:
			value()
		}
	}
}
