package mirror

import (
	"encoding/json"
	"path"
	"strings"

	"github.com/tidwall/gjson"
)

// Filter is a server's include_tools / exclude_tools: glob patterns
// (path.Match syntax: *, ?, [a-z]) matched against upstream tool names,
// ignoring case. It applies before the guardrails.
type Filter struct {
	Include []string
	Exclude []string
}

// Empty says the filter keeps everything.
func (f Filter) Empty() bool { return len(f.Include) == 0 && len(f.Exclude) == 0 }

// Keeps says whether a tool named name passes: it matches an include
// pattern (when there are any) and no exclude pattern.
func (f Filter) Keeps(name string) bool {
	name = strings.ToLower(name)
	match := func(patterns []string) bool {
		for _, p := range patterns {
			if ok, _ := path.Match(strings.ToLower(p), name); ok {
				return true
			}
		}
		return false
	}
	return (len(f.Include) == 0 || match(f.Include)) && !match(f.Exclude)
}

// Apply returns the tools the filter keeps, and how many it dropped.
func (f Filter) Apply(tools []json.RawMessage) ([]json.RawMessage, int) {
	if f.Empty() {
		return tools, 0
	}
	kept := make([]json.RawMessage, 0, len(tools))
	for _, t := range tools {
		if f.Keeps(gjson.GetBytes(t, "name").Str) {
			kept = append(kept, t)
		}
	}
	return kept, len(tools) - len(kept)
}
