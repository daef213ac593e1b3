package register

import (
	"github.com/BurntSushi/toml"
	"github.com/tidwall/gjson"
)

// entryOf reads the existing entry named name from a config's content, as
// generic values, or nil.
func entryOf(c Client, data []byte, name string) map[string]any {
	if len(data) == 0 {
		return nil
	}
	if c.Format == TOML {
		doc := map[string]any{}
		if _, err := toml.Decode(string(data), &doc); err != nil {
			return nil
		}
		servers, _ := doc[c.Container].(map[string]any)
		entry, _ := servers[name].(map[string]any)
		return entry
	}
	root := gjson.ParseBytes(data)
	cont, ok := lookup(root, c.Container)
	if !ok {
		return nil
	}
	v, ok := lookup(cont, name)
	if !ok || !v.IsObject() {
		return nil
	}
	entry, _ := v.Value().(map[string]any)
	return entry
}

func hasEntry(c Client, data []byte, name string) bool { return entryOf(c, data, name) != nil }

// registeredCommand is the program an existing entry runs ("" if none):
// "command" as a string, or the first element of OpenCode's array.
func registeredCommand(c Client, data []byte, name string) string {
	switch cmd := entryOf(c, data, name)["command"].(type) {
	case string:
		return cmd
	case []any:
		if len(cmd) > 0 {
			s, _ := cmd[0].(string)
			return s
		}
	}
	return ""
}

// registeredEnv is the environment an existing entry gives the proxy
// ("env", or OpenCode's "environment"); values that are not strings are
// left out.
func registeredEnv(c Client, data []byte, name string) map[string]string {
	entry := entryOf(c, data, name)
	if entry == nil {
		return nil
	}
	raw, _ := entry["env"].(map[string]any)
	if m, ok := entry["environment"].(map[string]any); ok {
		raw = m
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}
