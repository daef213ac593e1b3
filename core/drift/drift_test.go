package drift

import (
	"encoding/json"
	"testing"
)

func TestObserveAndApprove(t *testing.T) {
	s := New(t.TempDir())
	v1 := []json.RawMessage{json.RawMessage(`{"name":"echo","description":"a","inputSchema":{"type":"object"}}`)}
	if ch, err := s.Observe("demo", v1); err != nil || len(ch) != 0 {
		t.Fatalf("first sight: %v %v", ch, err)
	}
	v2 := []json.RawMessage{json.RawMessage(`{"name":"echo","description":"b","inputSchema":{"type":"object","properties":{"x":{}}}}`)}
	ch, err := s.Observe("demo", v2)
	if err != nil || len(ch) != 1 || len(ch[0].What) != 2 {
		t.Fatalf("after a change: %+v %v", ch, err)
	}
	// Still changed on the next listing, until approved.
	if ch, _ := s.Observe("demo", v2); len(ch) != 1 {
		t.Fatalf("the change was forgotten: %+v", ch)
	}
	if n, err := s.Approve("demo"); n != 1 || err != nil {
		t.Fatalf("approve: %d %v", n, err)
	}
	if ch, _ := s.Observe("demo", v2); len(ch) != 0 {
		t.Fatalf("after approval: %+v", ch)
	}
	// Another server's tool of the same name is its own.
	if ch, _ := s.Observe("other", v1); len(ch) != 0 {
		t.Fatalf("servers share hashes: %+v", ch)
	}
}
