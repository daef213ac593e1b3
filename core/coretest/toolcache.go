package coretest

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// DropCachedTool removes tool from server's list in the tool cache file,
// so that the cached list is out of date.
func DropCachedTool(t testing.TB, cache, server, tool string) {
	t.Helper()
	data, err := os.ReadFile(cache)
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	entry := f["servers"].(map[string]any)[server].(map[string]any)
	var kept []any
	for _, def := range entry["tools"].([]any) {
		if !strings.Contains(def.(string), `"`+tool+`"`) {
			kept = append(kept, def)
		}
	}
	entry["tools"] = kept
	data, _ = json.Marshal(f)
	if err := os.WriteFile(cache, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
