package drift

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func tools(defs ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(defs))
	for i, d := range defs {
		out[i] = json.RawMessage(d)
	}
	return out
}

func TestObserveAndApprove(t *testing.T) {
	s := New(t.TempDir())
	v1 := tools(`{"name":"echo","description":"a","inputSchema":{"type":"object"}}`)
	if ch, _, err := s.Observe("demo", v1, false); err != nil || len(ch) != 0 {
		t.Fatalf("first sight: %v %v", ch, err)
	}
	v2 := tools(`{"name":"echo","description":"b","inputSchema":{"type":"object","properties":{"x":{}}}}`)
	ch, _, err := s.Observe("demo", v2, false)
	if err != nil || len(ch) != 1 || !slices.Equal(ch[0].What, []string{WhatDescription, WhatSchema}) {
		t.Fatalf("after a change: %+v %v", ch, err)
	}
	// Still changed on the next listing, until approved.
	if ch, _, _ := s.Observe("demo", v2, false); len(ch) != 1 {
		t.Fatalf("the change was forgotten: %+v", ch)
	}
	if n, err := s.Approve("demo", ""); n != 1 || err != nil {
		t.Fatalf("approve: %d %v", n, err)
	}
	ch, reviewed, _ := s.Observe("demo", v2, false)
	if len(ch) != 0 || !reviewed["echo"] {
		t.Fatalf("after approval: %+v reviewed %v", ch, reviewed)
	}
	// Another server's tool of the same name is its own.
	if ch, _, _ := s.Observe("other", v1, false); len(ch) != 0 {
		t.Fatalf("servers share hashes: %+v", ch)
	}
}

// The hash covers every member the mirror passes on, not a chosen few:
// a change to a member the old hash ignored (here "_meta", and an
// annotation's value) is a change. Key order and spacing are not, since
// the mirror re-encodes them.
func TestHashCoversWhatIsMirrored(t *testing.T) {
	s := New(t.TempDir())
	base := `{"name":"t","description":"d","inputSchema":{"type":"object"},"_meta":{"x":1}}`
	if ch, _, _ := s.Observe("s", tools(base), true); len(ch) != 0 {
		t.Fatal(ch)
	}
	same := `{ "_meta": {"x": 1}, "inputSchema": {"type": "object"}, "description": "d", "name": "t" }`
	if ch, _, _ := s.Observe("s", tools(same), true); len(ch) != 0 {
		t.Fatalf("re-ordered members are a change: %+v", ch)
	}
	changed := `{"name":"t","description":"d","inputSchema":{"type":"object"},"_meta":{"x":2}}`
	if ch, _, _ := s.Observe("s", tools(changed), true); len(ch) != 1 || ch[0].What[0] != WhatDescription {
		t.Fatalf("a changed _meta: %+v", ch)
	}
}

// In strict mode a tool new to a server already seen waits for approval;
// approve SERVER TOOL lets that one through alone.
func TestNewToolWaits(t *testing.T) {
	s := New(t.TempDir())
	a := `{"name":"a","description":"x"}`
	b := `{"name":"b","description":"y"}`
	c := `{"name":"c","description":"z"}`
	if ch, _, _ := s.Observe("s", tools(a), true); len(ch) != 0 {
		t.Fatalf("first sight of a server: %+v", ch)
	}
	ch, _, _ := s.Observe("s", tools(a, b, c), true)
	if len(ch) != 2 || ch[0].Tool != "b" || ch[0].What[0] != WhatNew {
		t.Fatalf("new tools: %+v", ch)
	}
	if n, err := s.Approve("s", "b"); n != 1 || err != nil {
		t.Fatalf("approve one: %d %v", n, err)
	}
	if ch, _, _ := s.Observe("s", tools(a, b, c), true); len(ch) != 1 || ch[0].Tool != "c" {
		t.Fatalf("after approving b: %+v", ch)
	}
	if _, err := s.Approve("s", "nope"); err == nil {
		t.Fatal("approving a tool never seen succeeded")
	}
	// Outside strict mode a new tool is approved on sight.
	if ch, _, _ := s.Observe("s", tools(a, b, c, `{"name":"d"}`), false); len(ch) != 1 {
		t.Fatalf("not held: %+v", ch)
	}
}

// Approvals recorded by the older hash carry over where the tool is
// unchanged, and a change made meanwhile is still one.
func TestLegacyHashesCarryOver(t *testing.T) {
	dir := t.TempDir()
	same := `{"name":"same","description":"d","inputSchema":{"type":"object"}}`
	moved := `{"name":"moved","description":"new words","inputSchema":{"type":"object"}}`
	old := legacyHashOf(json.RawMessage(same))
	oldMoved := legacyHashOf(json.RawMessage(`{"name":"moved","description":"old words","inputSchema":{"type":"object"}}`))
	f := file{Version: 1, Servers: map[string]map[string]entry{"s": {
		"same":  {Approved: old, Current: old},
		"moved": {Approved: oldMoved, Current: oldMoved},
	}}}
	data, _ := json.Marshal(f)
	if err := os.WriteFile(filepath.Join(dir, FileName), data, 0o600); err != nil {
		t.Fatal(err)
	}
	ch, _, err := New(dir).Observe("s", tools(same, moved), true)
	if err != nil || len(ch) != 1 || ch[0].Tool != "moved" || !slices.Equal(ch[0].What, []string{WhatDescription}) {
		t.Fatalf("carried over: %+v %v", ch, err)
	}
}

// A store keeps what it read while the file is unchanged, and sees at
// once what another store (the CLI, beside the hub) wrote to it, or what
// was written to the file by hand.
func TestStoreSeesOtherWriters(t *testing.T) {
	dir := t.TempDir()
	hub, cli := New(dir), New(dir)
	v1 := tools(`{"name":"echo","description":"a","inputSchema":{"type":"object"}}`)
	v2 := tools(`{"name":"echo","description":"b","inputSchema":{"type":"object"}}`)
	if _, _, err := hub.Observe("demo", v1, false); err != nil {
		t.Fatal(err)
	}
	if ch, _, _ := hub.Observe("demo", v2, false); len(ch) != 1 {
		t.Fatalf("the change: %+v", ch)
	}
	if hub.cached == nil {
		t.Fatal("the store keeps nothing of what it wrote")
	}
	if n, err := cli.Approve("demo", "echo"); n != 1 || err != nil {
		t.Fatalf("the CLI's approval: %d %v", n, err)
	}
	if ch, reviewed, _ := hub.Observe("demo", v2, false); len(ch) != 0 || !reviewed["echo"] {
		t.Fatalf("the hub's store missed the CLI's approval: %+v %v", ch, reviewed)
	}
	// The file replaced by hand (the user moved an old copy back).
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(`{"version":1,"servers":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if ch, _ := hub.Changes("demo"); len(ch) != 0 {
		t.Fatalf("changes of a server the file no longer has: %+v", ch)
	}
	if _, known := hub.cached.Servers["demo"]; known {
		t.Fatal("the store kept its copy of a file that was replaced")
	}
}
