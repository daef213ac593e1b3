package share_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/coretest"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/settings"
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
			raw(`{"name":"late","inputSchema":{"type":"object"}}`),
			raw(`{"name":"later","inputSchema":{"type":"object"}}`),
			raw(`{"name":"say","inputSchema":{"type":"object"}}`),
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
			"say": {Steps: []scripted.Step{
				{Notify: raw(`{"method":"notifications/message","params":{"level":"info","data":"said"}}`)},
				{Echo: true},
			}},
			// A question after the answer: outside any call.
			"later": {Steps: []scripted.Step{
				{Echo: true},
				{Request: raw(`{"method":"elicitation/create","params":{"message":"later?","requestedSchema":{"type":"object","properties":{}}}}`)},
			}},
			// Progress after the answer, as mcp-go's stdio server may
			// write it.
			"late": {Steps: []scripted.Step{
				{Echo: true},
				{Notify: raw(`{"method":"notifications/progress","params":{"progressToken":"$progressToken","progress":1}}`)},
			}},
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

// Progress that a server sends just after its answer still reaches the
// session whose call it was, under the session's own token.
func TestProgressAfterTheAnswer(t *testing.T) {
	h := hub(t, asker(scripted.Legacy), coretest.HubOptions{})
	a := h.Core(t).Serve(t)
	a.Initialize(`{}`)
	a.Send(`{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"up.late","arguments":{"message":"x"},"_meta":{"progressToken":"p-a"}}}`)
	a.Wait(`"a"`)
	got, _ := a.Next(0, isMethod("notifications/progress"))
	if tok := gjson.GetBytes(got, "params.progressToken").Str; tok != "p-a" {
		t.Fatalf("progress under token %q: %s", tok, got)
	}
}

// A shared instance's log message names no call: it reaches a session
// only while that session alone uses the instance.
func TestSharedLogMessagesStayWithOneSession(t *testing.T) {
	h := hub(t, asker(scripted.Stateless), coretest.HubOptions{})
	a, b := h.Core(t).Serve(t), h.Core(t).Serve(t)
	call := func(cl *coretest.Client, id, tool string) {
		cl.Send(`{"jsonrpc":"2.0","id":"` + id + `","method":"tools/call","params":{"name":"up.` + tool + `","arguments":{"message":"m"},"_meta":{"io.modelcontextprotocol/logLevel":"info",` + modernMeta + `}}}`)
		cl.Wait(`"` + id + `"`)
	}
	call(a, "a1", "say")
	if count(a, "notifications/message") != 1 {
		t.Fatalf("a, alone on the server, did not get its log message: %s", a.Messages())
	}
	call(b, "b1", "echo") // b uses the instance too
	call(a, "a2", "say")
	call(b, "b2", "say")
	time.Sleep(50 * time.Millisecond)
	if na, nb := count(a, "notifications/message"), count(b, "notifications/message"); na != 1 || nb != 0 {
		t.Fatalf("log messages: a %d, b %d; want 1 and 0 once both use the instance", na, nb)
	}
}

// Sessions watching a stateless server's resource share one listen
// request of the hub's; resources/subscribe, which such a server does not
// have, never reaches it (a session answered in place of another's in
// flight would believe it watched).
func TestSessionsShareAWatch(t *testing.T) {
	sc := asker(scripted.Stateless)
	sc.Capabilities = raw(`{"tools":{},"resources":{"subscribe":true}}`)
	sc.Held = map[string]bool{"subscriptions/listen": true}
	h := hub(t, sc, coretest.HubOptions{})
	var clients []*coretest.Client
	for i := range 3 {
		cl := h.Core(t).Serve(t)
		cl.Send(`{"jsonrpc":"2.0","id":"t","method":"tools/list","params":{"_meta":{` + modernMeta + `}}}`)
		cl.Wait(`"t"`)
		cl.Send(`{"jsonrpc":"2.0","id":"l` + strconv.Itoa(i) + `","method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":["res://x"]},"_meta":{` + modernMeta + `}}}`)
		clients = append(clients, cl)
	}
	for i, cl := range clients {
		if ack, _ := cl.Next(0, isMethod("notifications/subscriptions/acknowledged")); !strings.Contains(string(ack), "res://x") {
			t.Fatalf("client %d: %s", i, ack)
		}
	}
	listens := 0
	for _, m := range receivedAll(h) {
		switch gjson.Get(m, "method").Str {
		case "resources/subscribe":
			t.Fatalf("the stateless server was sent %s", m)
		case "subscriptions/listen":
			listens++
		}
	}
	if listens != 1 {
		t.Fatalf("%d listen requests reached the server, want the hub's one: %v", listens, receivedAll(h))
	}
}

// A legacy server's question outside any call goes to the one session
// that has used its instance, as it would with a server of its own; once
// two sessions have, it names none of them and is refused.
func TestQuestionOutsideACall(t *testing.T) {
	h := hub(t, asker(scripted.Legacy), coretest.HubOptions{})
	a := h.Core(t).Serve(t)
	a.Initialize(`{"elicitation":{}}`)
	a.Send(`{"jsonrpc":"2.0","id":"a1","method":"tools/call","params":{"name":"up.later","arguments":{"message":"x"}}}`)
	a.Wait(`"a1"`)
	ask, _ := a.Next(0, isMethod("elicitation/create"))
	a.Send(`{"jsonrpc":"2.0","id":` + gjson.GetBytes(ask, "id").Raw + `,"result":{"action":"decline"}}`)

	b := h.Core(t).Serve(t)
	b.Initialize(`{"elicitation":{}}`)
	if got := b.CallTool("up.echo", map[string]any{"message": "hi"}).Text(); got != "hi" {
		t.Fatalf("b's echo: %q", got)
	}
	a.Send(`{"jsonrpc":"2.0","id":"a2","method":"tools/call","params":{"name":"up.later","arguments":{"message":"y"}}}`)
	a.Wait(`"a2"`)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(strings.Join(receivedAll(h), "\n"), "no client to ask") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n, m := count(a, "elicitation/create"), count(b, "elicitation/create"); n != 1 || m != 0 {
		t.Fatalf("a was asked %d times, b %d; want the first question alone, to a", n, m)
	}
	if !strings.Contains(strings.Join(receivedAll(h), "\n"), "no client to ask") {
		t.Fatalf("the second question was not refused: %v", receivedAll(h))
	}
}

func receivedAll(h *coretest.Hub) []string {
	var out []string
	for _, m := range h.Transport.Received("up") {
		out = append(out, string(m))
	}
	return out
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

// instanceHeld is a hub whose legacy server may run one instance, with
// the request timeout given (seconds), and two sessions: a's call holds
// the instance, its question (ask) unanswered.
func instanceHeld(t *testing.T, timeout string) (a, b *coretest.Client, ask json.RawMessage) {
	t.Helper()
	h := coretest.NewHub(t, coretest.Options{
		Scripts: map[string]scripted.Script{"up": asker(scripted.Legacy)},
		Env:     map[string]string{settings.EnvRequestTimeout: timeout},
	}, coretest.HubOptions{MaxInstances: 1})
	a, b = h.Core(t).Serve(t), h.Core(t).Serve(t)
	a.Initialize(`{"elicitation":{}}`)
	b.Initialize(`{"elicitation":{}}`)
	a.Send(`{"jsonrpc":"2.0","id":"a1","method":"tools/call","params":{"name":"up.ask","arguments":{}}}`)
	ask, _ = a.Next(0, isMethod("elicitation/create"))
	return a, b, ask
}

// The wait for an instance is part of a call's time: a call that waited
// for most of its timeout has only the rest of it once it runs.
func TestLeaseWaitCountsAgainstTheTimeout(t *testing.T) {
	a, b, ask := instanceHeld(t, "1")
	sent := time.Now()
	b.Send(`{"jsonrpc":"2.0","id":"b1","method":"tools/call","params":{"name":"up.ask","arguments":{}}}`)
	time.Sleep(800 * time.Millisecond) // b waits for the only instance
	a.Send(`{"jsonrpc":"2.0","id":` + gjson.GetBytes(ask, "id").Raw + `,"result":{"action":"accept","content":{}}}`)
	a.Wait(`"a1"`)
	// b's call now runs, and its question waits unanswered: the call ends
	// a second after b sent it, not a second after it got the instance.
	answer := b.Wait(`"b1"`)
	took := time.Since(sent)
	if !strings.Contains(string(answer), "within 1s") {
		t.Fatalf("b's call: %s", answer)
	}
	if took > 1600*time.Millisecond {
		t.Fatalf("b's call timed out %v after it was sent; its timeout is 1s, the wait included", took.Round(time.Millisecond))
	}
}

// A call that finds every instance leased to other sessions' calls for
// all its timeout says so, naming max_instances: the server was not slow,
// it was never asked.
func TestWaitForAnInstanceSaysWhy(t *testing.T) {
	a, b, ask := instanceHeld(t, "0.5")
	b.Send(`{"jsonrpc":"2.0","id":"b1","method":"tools/call","params":{"name":"up.ask","arguments":{}}}`)
	// a keeps the instance busy past b's timeout: a second call of its
	// own is in flight when its first times out (and pins it).
	time.Sleep(300 * time.Millisecond)
	a.Send(`{"jsonrpc":"2.0","id":"a2","method":"tools/call","params":{"name":"up.ask","arguments":{}}}`)
	answer := string(b.Wait(`"b1"`))
	if !strings.Contains(answer, "waited 500ms for an instance") || !strings.Contains(answer, "max_instances: 1") || !strings.Contains(answer, "was not sent") {
		t.Fatalf("b's call: %s", answer)
	}
	// a's call, which held the instance, ends by its own timeout: the
	// server's, not a wait's.
	if got := string(a.Wait(`"a1"`)); !strings.Contains(got, "did not answer tools/call") {
		t.Fatalf("a's call: %s (asked %s)", got, ask)
	}
	if n := count(b, "elicitation/create"); n != 0 {
		t.Fatalf("b was asked %d times; its call never reached the server", n)
	}
}

func elicit(msg string) scripted.Step {
	return scripted.Step{Request: raw(`{"method":"elicitation/create","params":{"message":"` + msg + `","requestedSchema":{"type":"object","properties":{}}}}`)}
}

// asked says whether cl was asked a question holding text.
func asked(cl *coretest.Client, text string) bool {
	for _, m := range cl.Messages() {
		if gjson.GetBytes(m, "method").Str == "elicitation/create" && strings.Contains(string(m), text) {
			return true
		}
	}
	return false
}

// A call abandoned while its server still works on it keeps its instance
// for its session: what the server asks next reaches that session, and
// another session's call gets an instance of its own.
func TestAbandonedCallKeepsItsInstance(t *testing.T) {
	sc := scripted.Script{
		Revision: scripted.Legacy,
		Tools:    []json.RawMessage{raw(`{"name":"twice","inputSchema":{"type":"object"}}`), raw(`{"name":"once","inputSchema":{"type":"object"}}`)},
		Calls: map[string]scripted.Call{
			"twice": {Steps: []scripted.Step{elicit("a-first"), elicit("a-second"), {Result: raw(`{"content":[]}`)}}},
			"once":  {Steps: []scripted.Step{elicit("b-own"), {Result: raw(`{"content":[{"type":"text","text":"done"}]}`)}}},
		},
	}
	h := hub(t, sc, coretest.HubOptions{})
	a, b := h.Core(t).Serve(t), h.Core(t).Serve(t)
	a.Initialize(`{"elicitation":{}}`)
	b.Initialize(`{"elicitation":{}}`)
	b.OnRequest("elicitation/create", func(json.RawMessage) string { return `{"action":"accept","content":{}}` })

	a.Send(`{"jsonrpc":"2.0","id":"a1","method":"tools/call","params":{"name":"up.twice","arguments":{}}}`)
	first, _ := a.Next(0, isMethod("elicitation/create"))
	a.Send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"a1"}}`)
	// The cancellation reached the server: the call is abandoned.
	deadline := time.Now().Add(5 * time.Second)
	for !receivedMethod(h, "notifications/cancelled") {
		if time.Now().After(deadline) {
			t.Fatal("the server was not told of the cancellation")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := b.CallTool("up.once", map[string]any{}).Text(); got != "done" {
		t.Fatalf("b's call: %q", got)
	}
	// The abandoned work goes on and asks again.
	a.Send(`{"jsonrpc":"2.0","id":` + gjson.GetBytes(first, "id").Raw + `,"result":{"action":"accept","content":{}}}`)
	a.Next(0, func(m json.RawMessage) bool { return asked(a, "a-second") })
	if asked(b, "a-first") || asked(b, "a-second") || !asked(b, "b-own") {
		t.Fatalf("b's questions: %s", b.Messages())
	}
	if n := h.Transport.Opens("up"); n != 2 {
		t.Fatalf("%d instances opened, want 2", n)
	}
}

func receivedMethod(h *coretest.Hub, method string) bool {
	for _, m := range h.Transport.Received("up") {
		if gjson.GetBytes(m, "method").Str == method {
			return true
		}
	}
	return false
}

// A stateless server shared by sessions asks inside its answers; a
// request of its own names no session, so no session gets it.
func TestSharedServerRequestIsRefused(t *testing.T) {
	sc := scripted.Script{
		Revision: scripted.Stateless,
		Tools:    []json.RawMessage{raw(`{"name":"ask","inputSchema":{"type":"object"}}`)},
		Calls: map[string]scripted.Call{
			"ask": {Steps: []scripted.Step{elicit("who?"), {Result: raw(`{"content":[{"type":"text","text":"asked"}]}`)}}},
		},
	}
	h := hub(t, sc, coretest.HubOptions{})
	a, b := h.Core(t).Serve(t), h.Core(t).Serve(t)
	a.Initialize(`{"elicitation":{}}`)
	b.Initialize(`{"elicitation":{}}`)
	for _, cl := range []*coretest.Client{a, b} {
		if got := cl.CallTool("up.ask", map[string]any{}).Text(); got != "asked" {
			t.Fatalf("call: %q", got)
		}
	}
	if count(a, "elicitation/create")+count(b, "elicitation/create") != 0 {
		t.Fatal("a shared server's own request reached a session")
	}
	refused := 0
	for _, m := range h.Transport.Received("up") {
		if strings.Contains(gjson.GetBytes(m, "error.message").Str, "shared between sessions") {
			refused++
		}
	}
	if refused != 2 {
		t.Fatalf("the server's requests were refused %d times, want 2", refused)
	}
}

// A subscription the server refused counts for nobody: the next
// session's subscribe reaches the server too.
func TestRefusedSubscribeIsNotCounted(t *testing.T) {
	sc := scripted.Script{
		Revision:     scripted.Legacy,
		Capabilities: raw(`{"tools":{},"resources":{"subscribe":true}}`),
		Methods:      map[string]json.RawMessage{"resources/list": raw(`{"resources":[{"uri":"file:///x","name":"x"}]}`)},
		Tools:        []json.RawMessage{raw(`{"name":"echo","inputSchema":{"type":"object"}}`)},
	}
	h := hub(t, sc, coretest.HubOptions{})
	a, b := h.Core(t).Serve(t), h.Core(t).Serve(t)
	a.Initialize(`{}`)
	b.Initialize(`{}`)
	a.Call(`"l"`, "resources/list", `{}`)
	b.Call(`"l"`, "resources/list", `{}`)
	ra := a.Call(`"s"`, "resources/subscribe", `{"uri":"file:///x"}`)
	rb := b.Call(`"s"`, "resources/subscribe", `{"uri":"file:///x"}`)
	if !gjson.GetBytes(ra, "error").Exists() || !gjson.GetBytes(rb, "error").Exists() {
		t.Fatalf("the server refuses subscribe, yet: a %s, b %s", ra, rb)
	}
}

// An instance that passes to another session is told its roots changed
// before that session's call reaches it, and asks the new session.
func TestRootsFollowTheLease(t *testing.T) {
	askRoots := scripted.Step{Request: raw(`{"method":"roots/list"}`)}
	sc := scripted.Script{
		Revision: scripted.Legacy,
		Tools:    []json.RawMessage{raw(`{"name":"where","inputSchema":{"type":"object"}}`)},
		Calls:    map[string]scripted.Call{"where": {Steps: []scripted.Step{askRoots, {Result: raw(`{"content":[{"type":"text","text":"here"}]}`)}}}},
		On:       map[string][]scripted.Step{"notifications/roots/list_changed": {askRoots}},
	}
	h := hub(t, sc, coretest.HubOptions{})
	a, b := h.Core(t).Serve(t), h.Core(t).Serve(t)
	for _, s := range []struct {
		cl   *coretest.Client
		root string
	}{{a, "file:///a"}, {b, "file:///b"}} {
		s.cl.Initialize(`{"roots":{"listChanged":true}}`)
		root := s.root
		s.cl.OnRequest("roots/list", func(json.RawMessage) string { return `{"roots":[{"uri":"` + root + `"}]}` })
	}
	a.CallTool("up.where", map[string]any{})
	b.CallTool("up.where", map[string]any{})
	if h.Transport.Opens("up") != 1 {
		t.Fatalf("%d instances, want the idle one reused", h.Transport.Opens("up"))
	}
	if na, nb := count(a, "roots/list"), count(b, "roots/list"); na != 1 || nb != 2 {
		t.Fatalf("roots asked of a %d, of b %d; want 1 (its call) and 2 (the move, its call)", na, nb)
	}
	changed, secondCall := -1, -1
	calls := 0
	for i, m := range h.Transport.Received("up") {
		switch gjson.GetBytes(m, "method").Str {
		case "notifications/roots/list_changed":
			changed = i
		case "tools/call":
			if calls++; calls == 2 {
				secondCall = i
			}
		}
	}
	if changed < 0 || changed > secondCall {
		t.Fatalf("roots/list_changed at %d, b's call at %d: the change must come first", changed, secondCall)
	}
}

// A task belongs to the session whose call created it: another session
// sharing the server neither lists it nor reaches it.
func TestTasksStayWithTheirSession(t *testing.T) {
	task := func(id string) []scripted.Step {
		return []scripted.Step{{Result: raw(`{"task":{"taskId":"` + id + `","status":"working","createdAt":"2026-12-04T00:00:00Z","ttl":60000}}`)}}
	}
	sc := scripted.Script{
		Revision:     scripted.Legacy,
		Capabilities: raw(`{"tools":{},"tasks":{"list":{},"cancel":{},"requests":{"tools":{"call":{}}}}}`),
		Methods: map[string]json.RawMessage{
			"tasks/list": raw(`{"tasks":[{"taskId":"t-a","status":"working"},{"taskId":"t-b","status":"working"}]}`),
			"tasks/get":  raw(`{"taskId":"t-a","status":"working"}`),
		},
		Tools: []json.RawMessage{raw(`{"name":"starta","inputSchema":{"type":"object"}}`), raw(`{"name":"startb","inputSchema":{"type":"object"}}`)},
		Calls: map[string]scripted.Call{"starta": {Steps: task("t-a")}, "startb": {Steps: task("t-b")}},
	}
	h := hub(t, sc, coretest.HubOptions{})
	a, b := h.Core(t).Serve(t), h.Core(t).Serve(t)
	caps := `{"tasks":{"list":{},"cancel":{}}}`
	a.Initialize(caps)
	b.Initialize(caps)
	a.Call(`"a1"`, "tools/call", `{"name":"up.starta","arguments":{},"task":{"ttl":60000}}`)
	b.Call(`"b1"`, "tools/call", `{"name":"up.startb","arguments":{},"task":{"ttl":60000}}`)
	for _, s := range []struct {
		cl         *coretest.Client
		own, other string
	}{{a, "t-a", "t-b"}, {b, "t-b", "t-a"}} {
		list := s.cl.Call(`"l"`, "tasks/list", `{}`)
		if !strings.Contains(string(list), s.own) || strings.Contains(string(list), s.other) {
			t.Fatalf("tasks/list of the session that made %s: %s", s.own, list)
		}
		if got := s.cl.Call(`"g"`, "tasks/get", `{"taskId":"`+s.other+`"}`); !gjson.GetBytes(got, "error").Exists() {
			t.Fatalf("the session that made %s reached %s: %s", s.own, s.other, got)
		}
	}
}
