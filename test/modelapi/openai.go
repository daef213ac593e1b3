package modelapi

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

func openaiError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error", "param": "tools", "code": "invalid_value"}})
}

// responsesTool is a Responses API tool: a function, another kind, or a
// namespace holding functions (Codex puts each MCP server's tools in one).
type responsesTool struct {
	Type     string `json:"type"`
	Name     string `json:"name"`
	Function *struct {
		Name string `json:"name"`
	} `json:"function"`
	Tools []responsesTool `json:"tools"`
}

// responsesRequest is the part of a Responses API request the fake reads.
type responsesRequest struct {
	Model  string            `json:"model"`
	Stream bool              `json:"stream"`
	Input  []json.RawMessage `json:"input"`
	Tools  []responsesTool   `json:"tools"`
}

// nsSep joins a namespace and a function in the recorded names; it is
// outside every provider's name pattern, so it cannot be mistaken for one.
const nsSep = "/"

// turn lists the functions, a namespaced one as NAMESPACE/NAME, and the
// names the API checks: each function's and each namespace's.
func (q responsesRequest) turn() (turn, []string) {
	var t turn
	var checked []string
	for _, tool := range q.Tools {
		switch {
		case tool.Type == "namespace":
			checked = append(checked, tool.Name)
			for _, f := range tool.Tools {
				t.tools = append(t.tools, tool.Name+nsSep+f.Name)
				checked = append(checked, f.Name)
			}
		case tool.Name != "":
			t.tools = append(t.tools, tool.Name)
			checked = append(checked, tool.Name)
		case tool.Function != nil:
			t.tools = append(t.tools, tool.Function.Name)
			checked = append(checked, tool.Function.Name)
		}
	}
	for _, raw := range q.Input {
		var item struct {
			Type   string `json:"type"`
			CallID string `json:"call_id"`
			Output any    `json:"output"`
		}
		if json.Unmarshal(raw, &item) == nil && item.Type == "function_call_output" && item.CallID == callID {
			t.result, t.hasResult = textOf(item.Output), true
		}
	}
	return t, checked
}

// openaiResponses serves POST /v1/responses (Codex's wire format).
func (s *Server) openaiResponses(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var q responsesRequest
	if err := json.Unmarshal(body, &q); err != nil {
		openaiError(w, http.StatusBadRequest, "malformed request: "+err.Error())
		return
	}
	t, checked := q.turn()
	rec := Request{API: "responses", Path: r.URL.Path, Model: q.Model, Tools: t.tools, ToolResult: t.result, Body: body}
	refuse := func(why string) { openaiError(w, http.StatusBadRequest, why) }
	d, ok := s.answer(rec, t, OpenAI.check(checked, len(t.tools)), refuse)
	if !ok {
		return
	}

	var item map[string]any
	if d.call != "" {
		item = map[string]any{"type": "function_call", "id": "fc_ica_1", "call_id": callID, "name": d.call, "arguments": d.argsJSON(), "status": "completed"}
		if ns, name, ok := strings.Cut(d.call, nsSep); ok {
			item["namespace"], item["name"] = ns, name
		}
	} else {
		item = map[string]any{"type": "message", "id": "msg_ica_1", "role": "assistant", "status": "completed",
			"content": []any{map[string]any{"type": "output_text", "text": d.text, "annotations": []any{}}}}
	}
	usage := map[string]any{"input_tokens": 10, "input_tokens_details": map[string]any{"cached_tokens": 0},
		"output_tokens": 5, "output_tokens_details": map[string]any{"reasoning_tokens": 0}, "total_tokens": 15}
	resp := map[string]any{"id": "resp_ica", "object": "response", "status": "completed", "model": q.Model, "output": []any{item}, "usage": usage}
	if !q.Stream {
		writeJSON(w, http.StatusOK, resp)
		return
	}
	e := newSSE(w)
	created := map[string]any{"id": "resp_ica", "object": "response", "status": "in_progress", "model": q.Model, "output": []any{}}
	e.event("response.created", map[string]any{"type": "response.created", "response": created})
	e.event("response.output_item.added", map[string]any{"type": "response.output_item.added", "output_index": 0, "item": item})
	if d.call == "" {
		e.event("response.output_text.delta", map[string]any{"type": "response.output_text.delta", "item_id": "msg_ica_1", "output_index": 0, "content_index": 0, "delta": d.text})
	}
	e.event("response.output_item.done", map[string]any{"type": "response.output_item.done", "output_index": 0, "item": item})
	e.event("response.completed", map[string]any{"type": "response.completed", "response": resp})
}

// chatRequest is the part of a Chat Completions request the fake reads.
type chatRequest struct {
	Model    string `json:"model"`
	Stream   bool   `json:"stream"`
	Messages []struct {
		Role       string `json:"role"`
		ToolCallID string `json:"tool_call_id"`
		Content    any    `json:"content"`
	} `json:"messages"`
	Tools []struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	} `json:"tools"`
}

func (q chatRequest) turn() turn {
	var t turn
	for _, tool := range q.Tools {
		t.tools = append(t.tools, tool.Function.Name)
	}
	for _, m := range q.Messages {
		if m.Role == "tool" && m.ToolCallID == callID {
			t.result, t.hasResult = textOf(m.Content), true
		}
	}
	return t
}

// openaiChat serves POST /v1/chat/completions (OpenAI-compatible
// providers).
func (s *Server) openaiChat(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var q chatRequest
	if err := json.Unmarshal(body, &q); err != nil {
		openaiError(w, http.StatusBadRequest, "malformed request: "+err.Error())
		return
	}
	t := q.turn()
	rec := Request{API: "chat", Path: r.URL.Path, Model: q.Model, Tools: t.tools, ToolResult: t.result, Body: body}
	refuse := func(why string) { openaiError(w, http.StatusBadRequest, why) }
	d, ok := s.answer(rec, t, OpenAI.Check(t.tools), refuse)
	if !ok {
		return
	}

	msg := map[string]any{"role": "assistant", "content": d.text}
	finish := "stop"
	if d.call != "" {
		msg["content"] = nil
		msg["tool_calls"] = []any{map[string]any{"index": 0, "id": callID, "type": "function",
			"function": map[string]any{"name": d.call, "arguments": d.argsJSON()}}}
		finish = "tool_calls"
	}
	usage := map[string]any{"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
	if !q.Stream {
		writeJSON(w, http.StatusOK, map[string]any{"id": "chatcmpl-ica", "object": "chat.completion", "created": 0, "model": q.Model,
			"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}}, "usage": usage})
		return
	}
	e := newSSE(w)
	chunk := func(delta map[string]any, finish any, usage any) map[string]any {
		c := map[string]any{"id": "chatcmpl-ica", "object": "chat.completion.chunk", "created": 0, "model": q.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
		if usage != nil {
			c["usage"] = usage
		}
		return c
	}
	e.event("", chunk(msg, nil, nil))
	e.event("", chunk(map[string]any{}, finish, usage))
	e.event("", []byte("[DONE]"))
}
