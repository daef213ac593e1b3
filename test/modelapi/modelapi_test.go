package modelapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// The rules refuse what the providers document they refuse.
func TestRules(t *testing.T) {
	long := strings.Repeat("a", 65)
	for _, tc := range []struct {
		rules Rules
		names []string
		ok    bool
	}{
		{Anthropic, []string{"mcp__ica-mcp-proxy__demo__echo"}, true},
		{Anthropic, []string{"demo.echo"}, false},
		{Anthropic, []string{long}, false},
		{OpenAI, []string{strings.Repeat("a", 64)}, true},
		{OpenAI, make129(), false},
		{Gemini, []string{"mcp_ica-mcp-proxy_demo.echo"}, true},
		{Gemini, []string{"1tool"}, false},
		{Gemini, []string{long}, false},
	} {
		if why := tc.rules.Check(tc.names); (why == "") != tc.ok {
			t.Errorf("%s %v: %q", tc.rules.Provider, tc.names[0], why)
		}
	}
}

func make129() []string {
	out := make([]string, 129)
	for i := range out {
		out[i] = "t"
	}
	return out
}

// A turn in the Anthropic format: a refused name gets the API's error,
// a valid offer gets the scripted call, and its result comes back.
func TestAnthropicTurn(t *testing.T) {
	s, err := Start(Script{ToolSuffix: "__echo", Args: map[string]any{"message": "hi"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	post := func(body string) (int, map[string]any) {
		res, err := http.Post(s.URL+"/v1/messages", "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = res.Body.Close() }()
		var v map[string]any
		_ = json.NewDecoder(res.Body).Decode(&v)
		return res.StatusCode, v
	}
	if code, v := post(`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"name":"a.b"}]}`); code != 400 || v["type"] != "error" {
		t.Fatalf("dotted name: %d %v", code, v)
	}
	code, v := post(`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"name":"mcp__p__demo__echo"}]}`)
	content, _ := v["content"].([]any)
	if code != 200 || len(content) != 1 || content[0].(map[string]any)["name"] != "mcp__p__demo__echo" {
		t.Fatalf("call: %d %v", code, v)
	}
	code, v = post(`{"model":"m","messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"call_ica_1","content":[{"type":"text","text":"Echo: hi"}]}]}],"tools":[{"name":"mcp__p__demo__echo"}]}`)
	content, _ = v["content"].([]any)
	if code != 200 || !strings.Contains(content[0].(map[string]any)["text"].(string), "Echo: hi") {
		t.Fatalf("answer: %d %v", code, v)
	}
	if reqs := s.Requests(); len(reqs) != 3 || reqs[0].Refused == "" || reqs[2].ToolResult != "Echo: hi" {
		t.Fatalf("recorded %+v", reqs)
	}
}
