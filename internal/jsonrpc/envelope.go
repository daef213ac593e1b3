// Package jsonrpc reads the envelope of a JSON-RPC 2.0 message: the
// members that say what it is and where it goes (jsonrpc, id, method,
// params, result, error), in one pass over the message's top level and
// without copying or decoding the rest. Both of the core's readers, of the
// client and of each upstream, route every message with it; it is the
// per-call path.
package jsonrpc

import (
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"
)

// Envelope is the routing part of one message. The raw members are slices
// of the message, nil when absent; Method is a copy, because it outlives
// the message (as a map key, in logs).
type Envelope struct {
	// Version is the jsonrpc member's raw value (`"2.0"` when it is right).
	Version []byte
	ID      []byte
	Method  string
	Params  []byte
	Result  []byte
	Error   []byte
}

// IsV2 reports whether the message says it is JSON-RPC 2.0.
func (e Envelope) IsV2() bool { return string(e.Version) == `"2.0"` }

// HasID reports whether the message has an id that is not null: it is a
// request or an answer.
func (e Envelope) HasID() bool { return len(e.ID) > 0 && string(e.ID) != "null" }

// Parse reads the envelope of msg, which must be valid JSON (the callers
// validate it once, whole, first). Anything but an object has an empty
// envelope. Of members that appear twice, the first counts, as gjson's
// lookups would have it.
//
// One pass instead of one lookup per member: a lookup of a member that is
// absent (result in a request, error in most answers) scans the whole
// message, and the profile of the per-call path showed those scans as the
// core's largest cost after the system calls.
func Parse(msg []byte) Envelope {
	var e Envelope
	if len(msg) == 0 {
		return e
	}
	s := unsafe.String(unsafe.SliceData(msg), len(msg))
	root := gjson.Parse(s)
	if !root.IsObject() {
		return e
	}
	var seen uint8
	root.ForEach(func(key, value gjson.Result) bool {
		var bit uint8
		var dst *[]byte
		switch key.Str {
		case "jsonrpc":
			bit, dst = 1, &e.Version
		case "id":
			bit, dst = 2, &e.ID
		case "method":
			bit = 4
		case "params":
			bit, dst = 8, &e.Params
		case "result":
			bit, dst = 16, &e.Result
		case "error":
			bit, dst = 32, &e.Error
		default:
			return true
		}
		if seen&bit != 0 {
			return true
		}
		seen |= bit
		if dst == nil {
			e.Method = strings.Clone(value.Str)
		} else {
			*dst = msg[value.Index : value.Index+len(value.Raw) : value.Index+len(value.Raw)]
		}
		return seen != 63
	})
	return e
}
