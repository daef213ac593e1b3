package share_test

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/coretest"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/scripted"
)

// Sessions of one hub over scripted servers: each test's cores share
// their upstreams through one registry (coretest.Hub).

const modernMeta = `"io.modelcontextprotocol/protocolVersion":"2026-07-28",` +
	`"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"test","version":"1"}`

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// asker is a legacy server whose "ask" tool elicits before it answers,
// and whose "progress" tool reports progress first.
func asker(revision string) scripted.Script {
	return scripted.Script{
		Revision: revision,
		Tools: []json.RawMessage{
			raw(`{"name":"ask","inputSchema":{"type":"object"}}`),
			raw(`{"name":"progress","inputSchema":{"type":"object"}}`),
			raw(`{"name":"echo","inputSchema":{"type":"object"}}`),
		},
		Calls: map[string]scripted.Call{
			"ask": {Steps: []scripted.Step{
				{Request: raw(`{"method":"elicitation/create","params":{"message":"who?","requestedSchema":{"type":"object","properties":{}}}}`)},
				{Result: raw(`{"content":[{"type":"text","text":"asked"}]}`)},
			}},
			"progress": {Steps: []scripted.Step{
				{Notify: raw(`{"method":"notifications/progress","params":{"progressToken":"$progressToken","progress":1}}`)},
				{Echo: true},
			}},
			"echo": {Steps: []scripted.Step{{Echo: true}}},
		},
	}
}

func isMethod(name string) func(json.RawMessage) bool {
	return func(m json.RawMessage) bool { return gjson.GetBytes(m, "method").Str == name }
}

// count is how many messages of method cl received.
func count(cl *coretest.Client, method string) int {
	n := 0
	for _, m := range cl.Messages() {
		if gjson.GetBytes(m, "method").Str == method {
			n++
		}
	}
	return n
}

func hub(t *testing.T, sc scripted.Script, h coretest.HubOptions) *coretest.Hub {
	return coretest.NewHub(t, coretest.Options{Scripts: map[string]scripted.Script{"up": sc}}, h)
}

// Two legacy sessions whose calls are in flight at once each get an
// instance of their own, and each instance's question reaches the
// session whose call it serves, never the other.
func TestLegacyInstancesAreLeased(t *testing.T) {
	h := hub(t, asker(scripted.Legacy), coretest.HubOptions{})
	a, b := h.Core(t).Serve(t), h.Core(t).Serve(t)
	a.Initialize(`{"elicitation":{}}`)
	b.Initialize(`{"elicitation":{}}`)

	var askedB atomic.Int32
	b.OnRequest("elicitation/create", func(json.RawMessage) string {
		askedB.Add(1)
		return `{"action":"accept","content":{}}`
	})
	// a's call stays in flight, its question unanswered, while b calls.
	a.Send(`{"jsonrpc":"2.0","id":"a1","method":"tools/call","params":{"name":"up.ask","arguments":{}}}`)
	ask, _ := a.Next(0, isMethod("elicitation/create"))
	if got := b.CallTool("up.ask", map[string]any{}).Text(); got != "asked" {
		t.Fatalf("b's call: %q", got)
	}
	a.Send(`{"jsonrpc":"2.0","id":` + gjson.GetBytes(ask, "id").Raw + `,"result":{"action":"accept","content":{}}}`)
	if got := gjson.GetBytes(a.Wait(`"a1"`), "result.content.0.text").Str; got != "asked" {
		t.Fatalf("a's call: %q", got)
	}
	if n := count(a, "elicitation/create"); n != 1 || askedB.Load() != 1 {
		t.Fatalf("questions: a got %d, b got %d; want one each", n, askedB.Load())
	}
	if n := h.Transport.Opens("up"); n != 2 {
		t.Fatalf("%d instances opened, want 2 (one per session with a call in flight)", n)
	}

	// With no call in flight, the next calls reuse what is open.
	for _, cl := range []*coretest.Client{a, b, a} {
		if got := cl.CallTool("up.echo", map[string]any{"message": "hi"}).Text(); got != "hi" {
			t.Fatalf("echo: %q", got)
		}
	}
	if n := h.Transport.Opens("up"); n != 2 {
		t.Fatalf("%d instances opened after idle calls, want still 2", n)
	}
}

// Calls that come one after another share one instance, as do the tool
// lists of every session.
func TestLegacySessionsShareAnIdleInstance(t *testing.T) {
	h := hub(t, asker(scripted.Legacy), coretest.HubOptions{})
	for i := range 3 {
		cl := h.Core(t).Serve(t)
		cl.Initialize(`{}`)
		if names := cl.ToolNames(); !strings.Contains(strings.Join(names, ","), "up.echo") {
			t.Fatalf("session %d lists %v", i, names)
		}
		if got := cl.CallTool("up.echo", map[string]any{"message": "hi"}).Text(); got != "hi" {
			t.Fatalf("session %d: echo %q", i, got)
		}
	}
	if n := h.Transport.Opens("up"); n != 1 {
		t.Fatalf("%d instances opened for three sessions in turn, want 1", n)
	}
}

// A stateless server is one instance for every session, even with calls
// in flight together; two sessions that use the same progress token
// each get only their own progress, under the token they gave.
func TestStatelessInstanceIsShared(t *testing.T) {
	h := hub(t, asker(scripted.Stateless), coretest.HubOptions{})
	a, b := h.Core(t).Serve(t), h.Core(t).Serve(t)
	call := func(id, msg string) string {
		return `{"jsonrpc":"2.0","id":"` + id + `","method":"tools/call","params":{"name":"up.progress","arguments":{"message":"` + msg +
			`"},"_meta":{"progressToken":7,` + modernMeta + `}}}`
	}
	a.Send(call("a", "from a"))
	b.Send(call("b", "from b"))
	for _, c := range []struct {
		cl   *coretest.Client
		id   string
		want string
	}{{a, `"a"`, "from a"}, {b, `"b"`, "from b"}} {
		if got := gjson.GetBytes(c.cl.Wait(c.id), "result.content.0.text").Str; got != c.want {
			t.Fatalf("%s: %q", c.id, got)
		}
		var progress []string
		for _, m := range c.cl.Messages() {
			if gjson.GetBytes(m, "method").Str == "notifications/progress" {
				progress = append(progress, gjson.GetBytes(m, "params.progressToken").Raw)
			}
		}
		if len(progress) != 1 || progress[0] != "7" {
			t.Fatalf("%s got progress %v, want one, token 7", c.id, progress)
		}
	}
	if n := h.Transport.Opens("up"); n != 1 {
		t.Fatalf("%d instances opened, want 1", n)
	}
	for _, m := range h.Transport.Received("up") {
		if tok := gjson.GetBytes(m, "params._meta.progressToken"); tok.Exists() && tok.Raw == "7" {
			t.Fatalf("a client's own token reached the shared server: %s", m)
		}
	}
}

// With one instance at most, a second session's call waits for the
// first's to end rather than sharing its instance.
func TestLeaseWaitsAtTheMost(t *testing.T) {
	h := hub(t, asker(scripted.Legacy), coretest.HubOptions{MaxInstances: 1})
	a, b := h.Core(t).Serve(t), h.Core(t).Serve(t)
	a.Initialize(`{"elicitation":{}}`)
	b.Initialize(`{"elicitation":{}}`)
	b.OnRequest("elicitation/create", func(json.RawMessage) string { return `{"action":"accept","content":{}}` })
	a.Send(`{"jsonrpc":"2.0","id":"a1","method":"tools/call","params":{"name":"up.ask","arguments":{}}}`)
	ask, _ := a.Next(0, isMethod("elicitation/create"))
	b.Send(`{"jsonrpc":"2.0","id":"b1","method":"tools/call","params":{"name":"up.ask","arguments":{}}}`)
	// b waits for the instance: nothing reaches it while a holds it.
	for range 50 {
		if count(b, "elicitation/create") != 0 {
			t.Fatal("b was asked while a held the only instance")
		}
		time.Sleep(time.Millisecond)
	}
	a.Send(`{"jsonrpc":"2.0","id":` + gjson.GetBytes(ask, "id").Raw + `,"result":{"action":"accept","content":{}}}`)
	a.Wait(`"a1"`)
	b.Wait(`"b1"`)
	if na, nb := count(a, "elicitation/create"), count(b, "elicitation/create"); na != 1 || nb != 1 || h.Transport.Opens("up") != 1 {
		t.Fatalf("a asked %d, b asked %d, %d opened; want 1, 1, 1", na, nb, h.Transport.Opens("up"))
	}
}
