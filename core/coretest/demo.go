package coretest

import (
	"encoding/json"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/scripted"
)

// Demo is a scripted server with the demo upstream's three basic tools
// (examples/demo-upstream): echo answers with its message; add (the only
// one with an output schema) answers 3; sleep answers "slept".
func Demo() scripted.Script {
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	result := func(text string) []scripted.Step {
		return []scripted.Step{{Result: raw(`{"content":[{"type":"text","text":"` + text + `"}]}`)}}
	}
	return scripted.Script{
		Revision: scripted.Legacy,
		Tools: []json.RawMessage{
			raw(`{"name":"echo","description":"Echo a message back.","inputSchema":{"type":"object","properties":{"message":{"type":"string","description":"What to echo"}},"required":["message"]}}`),
			raw(`{"name":"add","description":"Add two numbers.","inputSchema":{"type":"object","properties":{"a":{"type":"number"},"b":{"type":"number"}},"required":["a","b"]},"outputSchema":{"type":"object","properties":{"sum":{"type":"number","description":"The sum of a and b"}},"required":["sum"]}}`),
			raw(`{"name":"sleep","description":"Wait for the given number of milliseconds, then answer.","inputSchema":{"type":"object","properties":{"ms":{"type":"number","description":"How long to wait"}}}}`),
		},
		Calls: map[string]scripted.Call{
			"echo":  {Steps: []scripted.Step{{Echo: true}}},
			"add":   {Steps: result("3")},
			"sleep": {Steps: result("slept")},
		},
	}
}
