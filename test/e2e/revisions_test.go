package e2e

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// modernMeta is the _meta every 2026-07-28 request carries.
func modernMeta(caps map[string]any) map[string]any {
	return map[string]any{
		"io.modelcontextprotocol/protocolVersion":    "2026-07-28",
		"io.modelcontextprotocol/clientCapabilities": caps,
		"io.modelcontextprotocol/clientInfo":         map[string]any{"name": "e2e-modern", "version": "1"},
	}
}

// modern sends a 2026-07-28 request (params gain the revision's _meta)
// and returns the whole response.
func (c *rpc) modern(method string, params map[string]any, caps map[string]any) json.RawMessage {
	c.t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	params["_meta"] = modernMeta(caps)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	msg, _, err := c.request(ctx, method, params)
	if err != nil {
		c.t.Fatal(err)
	}
	return msg
}

// modernHeld sends a 2026-07-28 request that stays open (such as
// subscriptions/listen) from a goroutine of its own; nothing waits for its
// end, and its failure is not the test's (it ends with the proxy).
func (c *rpc) modernHeld(method string, params map[string]any, caps map[string]any) {
	params["_meta"] = modernMeta(caps)
	go func() { _, _, _ = c.request(context.Background(), method, params) }()
}

// modernResult is modern for a request that must succeed: its result.
func (c *rpc) modernResult(method string, params map[string]any, caps map[string]any) json.RawMessage {
	c.t.Helper()
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	msg := c.modern(method, params, caps)
	if err := json.Unmarshal(msg, &r); err != nil || r.Error != nil || r.Result == nil {
		c.t.Fatalf("%s: %s", method, msg)
	}
	return r.Result
}

func errorCode(t *testing.T, msg json.RawMessage) int {
	t.Helper()
	var r struct {
		Error *struct {
			Code int `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg, &r); err != nil || r.Error == nil {
		t.Fatalf("not an error: %s", msg)
	}
	return r.Error.Code
}

// TestStatelessClient drives the proxy as a 2026-07-28 client does (Claude
// Code): no initialize; every request names its revision and capabilities.
func TestStatelessClient(t *testing.T) {
	t.Parallel()
	needPeers(t)
	e := newEnv(t)
	e.writeProject(t, map[string]any{"demo": demoServer(), "everything": everythingServer()})
	c := startRPC(t, e.command())
	caps := map[string]any{"elicitation": map[string]any{}, "sampling": map[string]any{}, "roots": map[string]any{}}

	var discover struct {
		ResultType        string   `json:"resultType"`
		SupportedVersions []string `json:"supportedVersions"`
	}
	if err := json.Unmarshal(c.modernResult("server/discover", nil, caps), &discover); err != nil {
		t.Fatal(err)
	}
	if discover.ResultType != "complete" || !slices.Contains(discover.SupportedVersions, "2026-07-28") || !slices.Contains(discover.SupportedVersions, "2025-06-18") {
		t.Fatalf("server/discover: %+v", discover)
	}

	// The first tools/list has every server's tools: the upstreams started
	// on the first request, not on an initialize that never comes. The
	// capabilities the client declared reached server-everything, which
	// offers its elicitation and sampling tools only to clients that can.
	var list struct {
		ResultType string `json:"resultType"`
		TTL        *int64 `json:"ttlMs"`
		CacheScope string `json:"cacheScope"`
		Tools      []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(c.modernResult("tools/list", nil, caps), &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range list.Tools {
		names = append(names, x.Name)
	}
	if list.ResultType != "complete" || list.TTL == nil || list.CacheScope != "private" {
		t.Fatalf("tools/list lacks the 2026-07-28 members: resultType %q ttlMs %v cacheScope %q", list.ResultType, list.TTL, list.CacheScope)
	}
	for _, want := range []string{"demo.echo", "everything.echo", "everything.trigger-elicitation-request", "everything.trigger-sampling-request", "proxy.list_servers"} {
		if !slices.Contains(names, want) {
			t.Fatalf("first tools/list lacks %s: %v", want, names)
		}
	}

	var call struct {
		ResultType        string `json:"resultType"`
		StructuredContent struct {
			Sum float64 `json:"sum"`
		} `json:"structuredContent"`
	}
	if err := json.Unmarshal(c.modernResult("tools/call", map[string]any{"name": "demo.add", "arguments": map[string]any{"a": 2, "b": 3}}, caps), &call); err != nil {
		t.Fatal(err)
	}
	if call.ResultType != "complete" || call.StructuredContent.Sum != 5 {
		t.Fatalf("tools/call: %+v", call)
	}
	// server-everything speaks 2025-11-25: the proxy adds resultType.
	raw := c.modernResult("tools/call", map[string]any{"name": "everything.echo", "arguments": map[string]any{"message": "hi"}}, caps)
	if !strings.HasPrefix(string(raw), `{"resultType":"complete",`) || !strings.Contains(string(raw), "hi") {
		t.Fatalf("legacy upstream's result to a stateless client: %s", raw)
	}
	// So does a broker tool's result.
	raw = c.modernResult("tools/call", map[string]any{"name": "proxy.list_servers", "arguments": map[string]any{}}, caps)
	if !strings.Contains(string(raw), `"resultType":"complete"`) {
		t.Fatalf("broker result to a stateless client: %s", raw)
	}

	// Requests the revision refuses, each with its own error, while the
	// others are served.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	noCaps, _, err := c.request(ctx, "tools/list", map[string]any{"_meta": map[string]any{"io.modelcontextprotocol/protocolVersion": "2026-07-28"}})
	if err != nil || errorCode(t, noCaps) != -32602 {
		t.Fatalf("a request without clientCapabilities: %s %v", noCaps, err)
	}
	future, _, err := c.request(ctx, "tools/list", map[string]any{"_meta": map[string]any{
		"io.modelcontextprotocol/protocolVersion": "2099-01-01", "io.modelcontextprotocol/clientCapabilities": map[string]any{}}})
	if err != nil || errorCode(t, future) != -32022 || !strings.Contains(string(future), `"requested":"2099-01-01"`) {
		t.Fatalf("an unknown revision: %s %v", future, err)
	}
	for _, m := range []string{"logging/setLevel", "ping", "resources/subscribe"} {
		if got := c.modern(m, map[string]any{"level": "debug", "uri": "demo://x"}, caps); errorCode(t, got) != -32601 {
			t.Fatalf("%s, removed in 2026-07-28: %s", m, got)
		}
	}

	// Nothing reached the client unasked: no session, no notifications
	// but those of its own requests.
	c.mu.Lock()
	notes := append([]json.RawMessage(nil), c.notes...)
	c.mu.Unlock()
	for _, n := range notes {
		if !strings.Contains(string(n), "notifications/progress") && !strings.Contains(string(n), "notifications/message") {
			t.Errorf("an unrequested notification reached a stateless client: %s", n)
		}
	}
}

// memoFile is what the tests read of mcp-upstreams.json, by server key.
type memoFile struct {
	Revisions map[string]struct {
		Stateless  string `json:"stateless"`
		Initialize string `json:"initialize"`
	} `json:"revisions"`
	TokenKinds map[string]struct {
		Kind string `json:"kind"`
	} `json:"token_kinds"`
}

// readMemo reads the memo of e's home.
func readMemo(t *testing.T, e *env) memoFile {
	t.Helper()
	var f memoFile
	data, err := os.ReadFile(filepath.Join(e.home, "mcp-upstreams.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// readRevisions returns what the memo remembers of how each server
// speaks: "stateless/initialize", each yes, no or "-" (not tried).
func readRevisions(t *testing.T, e *env) map[string]string {
	t.Helper()
	f := readMemo(t, e)
	out := map[string]string{}
	for key, r := range f.Revisions {
		dash := func(s string) string {
			if s == "" {
				return "-"
			}
			return s
		}
		out[strings.SplitN(key, "@", 2)[0]] = dash(r.Stateless) + "/" + dash(r.Initialize)
	}
	return out
}

// TestUpstreamRevisions: each stdio upstream is spoken to in its client's
// revision where it speaks it. For a session client, initialize first:
// the Go demo (mcp-go, which speaks both), server-everything (2025-11-25)
// and a server that ignores unknown requests all take it, and nothing is
// probed. For a stateless client, server/discover first: the demo takes
// it, server-everything refuses it, and the silent server's is settled
// by a ping; both then get initialize (bridged). What each was found to
// speak is remembered, so a later start probes nothing again.
func TestUpstreamRevisions(t *testing.T) {
	t.Parallel()
	needPeers(t)
	e := newEnv(t)
	e.set("ICA_LOG_LEVEL=debug")
	e.writeProject(t, map[string]any{
		"demo":       demoServer(),
		"everything": everythingServer(),
		"silent":     map[string]any{"command": buildHostile(t), "env": map[string]any{"HOSTILE_IGNORE_UNKNOWN": "1"}},
	})
	for run, tc := range []struct {
		stateless bool
		want      map[string]string
		probed    bool
	}{
		{false, map[string]string{"demo": "-/yes", "everything": "-/yes", "silent": "-/yes"}, false},
		{true, map[string]string{"demo": "yes/yes", "everything": "no/yes", "silent": "no/yes"}, true},
		{true, map[string]string{"demo": "yes/yes", "everything": "no/yes", "silent": "no/yes"}, false},
	} {
		c := startRPC(t, e.command())
		call := func(tool string, args map[string]any) json.RawMessage {
			if tc.stateless {
				return c.modernResult("tools/call", map[string]any{"name": tool, "arguments": args}, map[string]any{})
			}
			return c.callTool(tool, args)
		}
		if !tc.stateless {
			c.initialize()
		}
		// mcp-go marks its results resultType only when it serves a
		// request statelessly.
		demo := string(call("demo.echo", map[string]any{"message": "hi"}))
		if strings.Contains(demo, `"resultType"`) == !tc.stateless {
			t.Fatalf("run %d: the demo upstream was not spoken to in the client's revision: %s", run, demo)
		}
		if got := string(call("everything.echo", map[string]any{"message": "hi"})); !strings.Contains(got, "Echo: hi") {
			t.Fatalf("run %d: everything.echo: %s", run, got)
		}
		if got := string(call("silent.choose", map[string]any{"id": "abc"})); !strings.Contains(got, "abc") {
			t.Fatalf("run %d: silent.choose: %s", run, got)
		}
		if got := readRevisions(t, e); !maps.Equal(got, tc.want) {
			t.Fatalf("run %d: remembered %v, want %v", run, got, tc.want)
		}
		if ignored := strings.Contains(c.stderr.String(), "the server ignored server/discover"); ignored != tc.probed {
			t.Fatalf("run %d: the silent server's probe settled by a ping: %v, want %v", run, ignored, tc.probed)
		}
		_ = c.stdin.Close()
		<-c.done
	}
}

// inputRequired is an input_required result.
type inputRequired struct {
	ResultType    string `json:"resultType"`
	InputRequests map[string]struct {
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	} `json:"inputRequests"`
	RequestState string `json:"requestState"`
}

// TestBridgedRequestsForStatelessClient: server-everything (2025-11-25)
// asks its client with requests of its own in the middle of a call; a
// 2026-07-28 client gets them as input_required results, and its retries
// carry the answers back, until the call's own result. A forged, reused
// or misapplied requestState is refused, and the other calls go on.
func TestBridgedRequestsForStatelessClient(t *testing.T) {
	t.Parallel()
	needPeers(t)
	e := newEnv(t)
	e.writeProject(t, map[string]any{"everything": everythingServer()})
	c := startRPC(t, e.command())
	caps := map[string]any{"elicitation": map[string]any{}, "sampling": map[string]any{}}

	call := func(name string, extra map[string]any) json.RawMessage {
		params := map[string]any{"name": name, "arguments": map[string]any{"prompt": "hi", "maxTokens": 5}}
		maps.Copy(params, extra)
		return c.modern("tools/call", params, caps)
	}
	asked := func(msg json.RawMessage, method string) inputRequired {
		t.Helper()
		var r struct {
			Result inputRequired `json:"result"`
		}
		if err := json.Unmarshal(msg, &r); err != nil || r.Result.ResultType != "input_required" || len(r.Result.InputRequests) != 1 || r.Result.RequestState == "" {
			t.Fatalf("want input_required for %s, got %s", method, msg)
		}
		for _, req := range r.Result.InputRequests {
			if req.Method != method {
				t.Fatalf("input request %s, want %s: %s", req.Method, method, msg)
			}
		}
		return r.Result
	}
	keyOf := func(ir inputRequired) string {
		for k := range ir.InputRequests {
			return k
		}
		return ""
	}

	// Elicitation, in two rounds of one call.
	first := asked(call("everything.trigger-elicitation-request", nil), "elicitation/create")
	if !strings.Contains(string(first.InputRequests[keyOf(first)].Params), "requestedSchema") {
		t.Fatalf("the elicitation's params did not come through: %s", first.InputRequests[keyOf(first)].Params)
	}
	answer := map[string]any{keyOf(first): map[string]any{"action": "accept", "content": map[string]any{"name": "Ada Lovelace"}}}

	// Tampering, a retry of another tool, and a state of nothing: refused
	// with the reason, while the held call waits.
	forged := first.RequestState[:len(first.RequestState)-2] + "xx"
	if got := call("everything.trigger-elicitation-request", map[string]any{"inputResponses": answer, "requestState": forged}); errorCode(t, got) != -32602 || !strings.Contains(string(got), "verification") {
		t.Fatalf("a forged requestState: %s", got)
	}
	if got := call("everything.trigger-sampling-request", map[string]any{"inputResponses": answer, "requestState": first.RequestState}); errorCode(t, got) != -32602 || !strings.Contains(string(got), "another request") {
		t.Fatalf("a requestState on another tool: %s", got)
	}
	if raw := c.modernResult("tools/call", map[string]any{"name": "everything.echo", "arguments": map[string]any{"message": "meanwhile"}}, caps); !strings.Contains(string(raw), "meanwhile") {
		t.Fatalf("another call while one is held: %s", raw)
	}

	final := call("everything.trigger-elicitation-request", map[string]any{"inputResponses": answer, "requestState": first.RequestState})
	if !strings.Contains(string(final), `"resultType":"complete"`) || !strings.Contains(string(final), "Ada Lovelace") {
		t.Fatalf("the retry did not get the call's result: %s", final)
	}
	if got := call("everything.trigger-elicitation-request", map[string]any{"inputResponses": answer, "requestState": first.RequestState}); errorCode(t, got) != -32602 {
		t.Fatalf("a requestState used twice: %s", got)
	}

	// Sampling the same way.
	s := asked(call("everything.trigger-sampling-request", nil), "sampling/createMessage")
	final = call("everything.trigger-sampling-request", map[string]any{
		"inputResponses": map[string]any{keyOf(s): map[string]any{"role": "assistant", "content": map[string]any{"type": "text", "text": "sampled-by-e2e"}, "model": "e2e", "stopReason": "endTurn"}},
		"requestState":   s.RequestState,
	})
	if !strings.Contains(string(final), "sampled-by-e2e") {
		t.Fatalf("the sampling answer did not reach the server: %s", final)
	}

	// No request ever reached the stateless client as a request.
	c.mu.Lock()
	requests := len(c.asked)
	c.mu.Unlock()
	if requests > 0 {
		t.Fatalf("a 2026-07-28 client was sent %d requests", requests)
	}
}

// TestHeldCallExpires: a stateless client that never retries an
// input_required leaves the upstream's call held only until the request
// timeout; the call is then cancelled, and a late retry is told the
// request ended.
func TestHeldCallExpires(t *testing.T) {
	t.Parallel()
	needPeers(t)
	e := newEnv(t)
	e.set("ICA_MCP_PROXY_UPSTREAM_REQUEST_TIMEOUT_S=2")
	e.writeProject(t, map[string]any{"everything": everythingServer()})
	c := startRPC(t, e.command())
	caps := map[string]any{"elicitation": map[string]any{}}
	var first struct {
		Result inputRequired `json:"result"`
	}
	if err := json.Unmarshal(c.modern("tools/call", map[string]any{"name": "everything.trigger-elicitation-request", "arguments": map[string]any{}}, caps), &first); err != nil || first.Result.ResultType != "input_required" {
		t.Fatalf("want input_required: %+v %v", first, err)
	}
	time.Sleep(3 * time.Second)
	var key string
	for k := range first.Result.InputRequests {
		key = k
	}
	late := c.modern("tools/call", map[string]any{"name": "everything.trigger-elicitation-request", "arguments": map[string]any{},
		"inputResponses": map[string]any{key: map[string]any{"action": "accept", "content": map[string]any{}}}, "requestState": first.Result.RequestState}, caps)
	if errorCode(t, late) != -32602 || !strings.Contains(string(late), "expired") && !strings.Contains(string(late), "ended") {
		t.Fatalf("a retry after the request timeout: %s", late)
	}
	// The server is free: the next call is answered.
	if raw := c.modernResult("tools/call", map[string]any{"name": "everything.echo", "arguments": map[string]any{"message": "next"}}, caps); !strings.Contains(string(raw), "next") {
		t.Fatalf("the next call: %s", raw)
	}
}
