package jsonrpc

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/tidwall/gjson"
)

// MaxDepth is how deeply the arrays and objects of a message may nest.
// gjson's validation recurses once per level, and a server that answers
// with 12 MB of "[" overflowed the stack of the whole process; no MCP
// message nests anywhere near this deep.
const MaxDepth = 1000

// ErrTooDeep is a message that nests deeper than MaxDepth.
var ErrTooDeep = fmt.Errorf("JSON nests deeper than %d levels", MaxDepth)

// ErrInvalid is a message that is not valid JSON.
var ErrInvalid = errors.New("invalid JSON")

// Validate checks msg before anything parses it recursively: its depth
// first, in one pass that recurses on nothing, then its syntax.
func Validate(msg []byte) error {
	if Depth(msg, MaxDepth) > MaxDepth {
		return ErrTooDeep
	}
	if !gjson.ValidBytes(msg) {
		return ErrInvalid
	}
	return nil
}

// Depth returns how deeply the arrays and objects of b nest, outside its
// strings, counting no further than limit+1. It does not check the
// syntax: brackets that do not match count as they come.
func Depth(b []byte, limit int) int {
	depth, deepest := 0, 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			// Skip the string: find its closing quote, one not escaped
			// by an odd run of backslashes.
			for {
				j := bytes.IndexByte(b[i+1:], '"')
				if j < 0 {
					return deepest
				}
				i += 1 + j
				k := i - 1
				for k >= 0 && b[k] == '\\' {
					k--
				}
				if (i-1-k)%2 == 0 {
					break
				}
			}
		case '[', '{':
			depth++
			if depth > deepest {
				deepest = depth
				if deepest > limit {
					return deepest
				}
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return deepest
}
