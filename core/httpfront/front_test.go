package httpfront_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/coretest"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/httpfront"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/scripted"
)

const token = "0123456789abcdef0123456789abcdef-test"

// front serves scripted upstreams over HTTP: one core for stateless
// requests, and one per legacy session.
func front(t *testing.T, scripts func() map[string]scripted.Script) (*httptest.Server, *int) {
	t.Helper()
	sessions := 0
	newCore := func() (httpfront.Core, func()) {
		c := coretest.New(t, coretest.Options{Scripts: scripts()})
		return c.Frontend(t.Context()), c.Proxy.Close
	}
	free, _ := newCore()
	h := httpfront.New(httpfront.Options{
		Token:     token,
		Stateless: free,
		NewSession: func() (httpfront.Core, func(), error) {
			sessions++
			core, end := newCore()
			return core, end, nil
		},
	})
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); h.Close() })
	return srv, &sessions
}

// echoScripts is the demo server, with a tool "progress" that reports
// progress under the token "p" before it answers.
func echoScripts() map[string]scripted.Script {
	sc := coretest.Demo()
	sc.Tools = append(sc.Tools, json.RawMessage(`{"name":"progress","inputSchema":{"type":"object"}}`))
	sc.Calls["progress"] = scripted.Call{Steps: []scripted.Step{
		{Notify: json.RawMessage(`{"method":"notifications/progress","params":{"progressToken":"p","progress":1}}`)},
		{Result: json.RawMessage(`{"content":[{"type":"text","text":"done"}]}`)},
	}}
	return map[string]scripted.Script{"demo": sc}
}

// reply is what post keeps of a response.
type reply struct {
	StatusCode int
	Header     http.Header
}

// post sends one message and returns the response and its body.
func post(t *testing.T, srv *httptest.Server, body string, header map[string]string) (reply, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+httpfront.Path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header}, string(data)
}

// events are the data lines of an event stream.
func events(body string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

const modernMeta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`

// TestLegacySession: initialize makes a session named by Mcp-Session-Id;
// its requests are answered as JSON, or as events when progress comes
// first; DELETE ends it, after which its id is 404.
func TestLegacySession(t *testing.T) {
	srv, sessions := front(t, echoScripts)
	resp, body := post(t, srv, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`, nil)
	sid := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != 200 || sid == "" || gjson.Get(body, "result.protocolVersion").Str != "2025-11-25" {
		t.Fatalf("initialize: %d %q %s", resp.StatusCode, sid, body)
	}
	in := map[string]string{"Mcp-Session-Id": sid}
	if resp, _ := post(t, srv, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, in); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("a notification: %d", resp.StatusCode)
	}
	resp, body = post(t, srv, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"demo.progress","arguments":{},"_meta":{"progressToken":"p"}}}`, in)
	ev := events(body)
	if resp.Header.Get("Content-Type") != "text/event-stream" || len(ev) != 2 ||
		gjson.Get(ev[0], "params.progressToken").Str != "p" || gjson.Get(ev[1], "result.content.0.text").Str != "done" {
		t.Fatalf("a call with progress: %s %s", resp.Header.Get("Content-Type"), body)
	}
	resp, body = post(t, srv, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"demo.echo","arguments":{"message":"plain"}}}`, in)
	if resp.Header.Get("Content-Type") != "application/json" || gjson.Get(body, "id").Int() != 3 || gjson.Get(body, "result.content.0.text").Str != "plain" {
		t.Fatalf("a call: %s %s", resp.Header.Get("Content-Type"), body)
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+httpfront.Path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Mcp-Session-Id", sid)
	r, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Body.Close()
	if r.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", r.StatusCode)
	}
	if resp, _ := post(t, srv, `{"jsonrpc":"2.0","id":4,"method":"tools/list"}`, in); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("an ended session: %d", resp.StatusCode)
	}
	if *sessions != 1 {
		t.Fatalf("%d sessions made", *sessions)
	}
}

// TestStatelessRequests: 2026-07-28 requests need no session. Two
// clients using the same id and progress token each get their own
// answer back under it; a request missing its revision's _meta is 400,
// an unknown method 404.
func TestStatelessRequests(t *testing.T) {
	srv, sessions := front(t, echoScripts)
	results := make(chan string, 2)
	for _, msg := range []string{"one", "two"} {
		go func() {
			_, body := post(t, srv, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"demo.echo","arguments":{"message":"`+msg+`"},`+
				`"_meta":{"progressToken":1,"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`, nil)
			results <- body
		}()
	}
	got := map[string]bool{}
	for range 2 {
		body := <-results
		ev := events(body)
		if len(ev) > 0 {
			for _, e := range ev[:len(ev)-1] {
				if tok := gjson.Get(e, "params._meta.progressToken"); tok.Exists() && tok.Raw != "1" {
					t.Errorf("a progress token not the client's: %s", e)
				}
			}
			body = ev[len(ev)-1]
		}
		if gjson.Get(body, "id").Raw != "7" {
			t.Fatalf("answered under id %s: %s", gjson.Get(body, "id").Raw, body)
		}
		got[gjson.Get(body, "result.content.0.text").Str] = true
	}
	if !got["one"] || !got["two"] {
		t.Fatalf("answers: %v", got)
	}
	resp, body := post(t, srv, `{"jsonrpc":"2.0","id":101,"method":"server/discover","params":{}}`, nil)
	if resp.StatusCode != http.StatusBadRequest || gjson.Get(body, "error.code").Int() != -32602 || gjson.Get(body, "id").Int() != 101 {
		t.Fatalf("server/discover without _meta: %d %s", resp.StatusCode, body)
	}
	resp, body = post(t, srv, `{"jsonrpc":"2.0","id":103,"method":"tools/list","params":{}}`, nil)
	if resp.StatusCode != http.StatusBadRequest || gjson.Get(body, "error.code").Int() != -32602 || !strings.Contains(body, "initialize") {
		t.Fatalf("a request outside a session without _meta: %d %s", resp.StatusCode, body)
	}
	resp, body = post(t, srv, `{"jsonrpc":"2.0","id":104,"method":"tools/list","params":{`+strings.Replace(modernMeta, "2026-07-28", "v999.0.0", 1)+`}}`, map[string]string{"MCP-Protocol-Version": "2026-07-28"})
	if resp.StatusCode != http.StatusBadRequest || gjson.Get(body, "error.code").Int() != -32020 {
		t.Fatalf("MCP-Protocol-Version and _meta disagree: %d %s", resp.StatusCode, body)
	}
	resp, body = post(t, srv, `{"jsonrpc":"2.0","id":102,"method":"nope/nothing","params":{`+modernMeta+`}}`, nil)
	if resp.StatusCode != http.StatusNotFound || gjson.Get(body, "error.code").Int() != -32601 {
		t.Fatalf("an unknown method: %d %s", resp.StatusCode, body)
	}
	if *sessions != 0 {
		t.Fatalf("stateless requests made %d sessions", *sessions)
	}
}

// TestListenOverHTTP: subscriptions/listen is an event stream that starts
// with the acknowledgement, tagged with the client's own request id;
// closing the request ends the subscription.
func TestListenOverHTTP(t *testing.T) {
	srv, _ := front(t, echoScripts)
	post(t, srv, `{"jsonrpc":"2.0","id":"l","method":"tools/list","params":{`+modernMeta+`}}`, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+httpfront.Path,
		strings.NewReader(`{"jsonrpc":"2.0","id":"sub-1","method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true},`+modernMeta+`}}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			if gjson.Get(d, "method").Str != "notifications/subscriptions/acknowledged" || gjson.Get(d, `params._meta.io\.modelcontextprotocol/subscriptionId`).Str != "sub-1" {
				t.Fatalf("first frame: %s", d)
			}
			return
		}
	}
	t.Fatalf("no acknowledgement: %v", sc.Err())
}

// TestRefused: no token, a wrong one, a Host or Origin that is not
// loopback, a batch, and what is not JSON are refused before any core
// sees them.
func TestRefused(t *testing.T) {
	srv, sessions := front(t, echoScripts)
	for _, c := range []struct {
		name   string
		header map[string]string
		body   string
		status int
	}{
		{"no token", map[string]string{"Authorization": ""}, `{}`, 401},
		{"wrong token", map[string]string{"Authorization": "Bearer " + strings.Repeat("0", len(token))}, `{}`, 401},
		{"rebinding Host", map[string]string{"Host": "attacker.example"}, `{}`, 403},
		{"foreign Origin", map[string]string{"Origin": "https://attacker.example"}, `{}`, 403},
		{"a batch", nil, `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, 400},
		{"not JSON", nil, `{"jsonrpc":`, 400},
		{"not application/json", map[string]string{"Content-Type": "text/plain"}, `{}`, 415},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+httpfront.Path, strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		for k, v := range c.header {
			if k == "Host" {
				req.Host = v
				continue
			}
			req.Header.Set(k, v)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d, want %d", c.name, resp.StatusCode, c.status)
		}
	}
	if *sessions != 0 {
		t.Fatalf("%d sessions made", *sessions)
	}
}
