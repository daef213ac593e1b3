package config

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// entryParser decodes the keys of one server entry, expanding ${VAR} in
// every string and keeping the first error.
type entryParser struct {
	s      *Server
	lookup func(string) (string, bool)
	err    string
}

func (p *entryParser) fail(key, want string) {
	if p.err == "" {
		p.err = fmt.Sprintf("%q must be %s", key, want)
	}
}

func (p *entryParser) expand(key, v string) string {
	out, missing := Expand(v, func(name string) (string, bool) {
		if !slices.Contains(p.s.EnvRefs, name) {
			p.s.EnvRefs = append(p.s.EnvRefs, name)
		}
		val, ok := p.lookup(name)
		if ok && val != "" {
			if p.s.expanded == nil {
				p.s.expanded = map[string]string{}
			}
			p.s.expanded[name] = val
		}
		return val, ok
	})
	for _, m := range missing {
		p.s.Warnings = append(p.s.Warnings, fmt.Sprintf("%s: ${%s} is not set; using \"\"", key, m))
	}
	return out
}

func (p *entryParser) str(f map[string]json.RawMessage, key string) string {
	raw, ok := f[key]
	if !ok || string(raw) == "null" {
		return ""
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		p.fail(key, "a string")
		return ""
	}
	return p.expand(key, v)
}

// prefix reads "prefix", or "tool_prefix" (its name before prompts
// followed it); nil when neither is given. Both, differing, is an error:
// which one the user meant cannot be known.
func (p *entryParser) prefix(f map[string]json.RawMessage) *string {
	_, general := f["prefix"]
	_, old := f["tool_prefix"]
	if !general && !old {
		return nil
	}
	var v string
	switch {
	case general && old:
		v = p.str(f, "prefix")
		if tv := p.str(f, "tool_prefix"); tv != v && p.err == "" {
			p.err = fmt.Sprintf(`"prefix" (%q) and "tool_prefix" (%q) differ; give one ("tool_prefix" is the older name of "prefix")`, v, tv)
		}
	case general:
		v = p.str(f, "prefix")
	default:
		v = p.str(f, "tool_prefix")
	}
	return &v
}

func (p *entryParser) strList(f map[string]json.RawMessage, key string) []string {
	raw, ok := f[key]
	if !ok || string(raw) == "null" {
		return nil
	}
	var v []string
	if err := json.Unmarshal(raw, &v); err != nil {
		p.fail(key, "an array of strings")
		return nil
	}
	for i := range v {
		v[i] = p.expand(key, v[i])
	}
	return v
}

// strMap accepts string values, and numbers or booleans written as JSON,
// which people put in env blocks.
func (p *entryParser) strMap(f map[string]json.RawMessage, key string) map[string]string {
	raw, ok := f[key]
	if !ok || string(raw) == "null" {
		return nil
	}
	var v map[string]json.RawMessage
	if err := json.Unmarshal(raw, &v); err != nil {
		p.fail(key, "an object of strings")
		return nil
	}
	out := make(map[string]string, len(v))
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var sv string
		if err := json.Unmarshal(v[k], &sv); err == nil {
			out[k] = p.expand(key+"."+k, sv)
			continue
		}
		var scalar any
		if err := json.Unmarshal(v[k], &scalar); err == nil {
			switch scalar.(type) {
			case float64, bool:
				out[k] = strings.TrimSpace(string(v[k]))
				continue
			}
		}
		p.fail(key+"."+k, "a string")
	}
	return out
}

func (p *entryParser) boolean(f map[string]json.RawMessage, key string) bool {
	raw, ok := f[key]
	if !ok || string(raw) == "null" {
		return false
	}
	var v bool
	if err := json.Unmarshal(raw, &v); err != nil {
		p.fail(key, "true or false")
	}
	return v
}

// count accepts a whole number of at least 1; absent is 0.
func (p *entryParser) count(f map[string]json.RawMessage, key string) int {
	raw, ok := f[key]
	if !ok || string(raw) == "null" {
		return 0
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil || n < 1 {
		p.fail(key, "a whole number of at least 1")
		return 0
	}
	return n
}

// timeout accepts seconds as a number or a numeric string, or a Go duration
// such as "90s".
func (p *entryParser) timeout(f map[string]json.RawMessage, key string) time.Duration {
	raw, ok := f[key]
	if !ok || string(raw) == "null" {
		return 0
	}
	var secs float64
	if err := json.Unmarshal(raw, &secs); err == nil && secs >= 0 {
		return time.Duration(secs * float64(time.Second))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		s = p.expand(key, s)
		if n, err := strconv.ParseFloat(s, 64); err == nil && n >= 0 {
			return time.Duration(n * float64(time.Second))
		}
		if d, err := time.ParseDuration(s); err == nil && d >= 0 {
			return d
		}
	}
	p.fail(key, `a number of seconds or a duration such as "30s"`)
	return 0
}

// expandJSON expands ${VAR} in every string of an arbitrary JSON value.
func (p *entryParser) expandJSON(key string, raw json.RawMessage) json.RawMessage {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return raw
	}
	var walk func(any) any
	walk = func(x any) any {
		switch t := x.(type) {
		case string:
			return p.expand(key, t)
		case []any:
			for i := range t {
				t[i] = walk(t[i])
			}
		case map[string]any:
			for k := range t {
				t[k] = walk(t[k])
			}
		}
		return x
	}
	out, err := json.Marshal(walk(v))
	if err != nil {
		return raw
	}
	return out
}

// globs reads a list of glob patterns (path.Match syntax) and refuses one
// that is not valid.
func (p *entryParser) globs(f map[string]json.RawMessage, key string) []string {
	list := p.strList(f, key)
	for _, g := range list {
		if _, err := path.Match(g, ""); err != nil {
			p.fail(key, fmt.Sprintf("a list of glob patterns (%q: %v)", g, err))
		}
	}
	return list
}
