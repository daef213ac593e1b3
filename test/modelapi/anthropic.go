package modelapi

import (
	"encoding/json"
	"io"
	"net/http"
)

// anthropicRequest is the part of a Messages request the fake reads.
type anthropicRequest struct {
	Model    string `json:"model"`
	Stream   bool   `json:"stream"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Tools []struct {
		Name string `json:"name"`
	} `json:"tools"`
}

func (q anthropicRequest) turn() turn {
	var t turn
	for _, tool := range q.Tools {
		t.tools = append(t.tools, tool.Name)
	}
	for _, m := range q.Messages {
		var blocks []struct {
			Type      string `json:"type"`
			ToolUseID string `json:"tool_use_id"`
			Content   any    `json:"content"`
		}
		if json.Unmarshal(m.Content, &blocks) != nil {
			continue // a plain string
		}
		for _, b := range blocks {
			if b.Type == "tool_result" && b.ToolUseID == callID {
				t.result, t.hasResult = textOf(b.Content), true
			}
		}
	}
	return t
}

func anthropicError(w http.ResponseWriter, code int, kind, msg string) {
	writeJSON(w, code, map[string]any{"type": "error", "error": map[string]any{"type": kind, "message": msg}})
}

// readAnthropic decodes a Messages request, or answers that it is
// malformed.
func readAnthropic(w http.ResponseWriter, r *http.Request) (anthropicRequest, turn, Request, bool) {
	body, _ := io.ReadAll(r.Body)
	var q anthropicRequest
	if err := json.Unmarshal(body, &q); err != nil {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "malformed request: "+err.Error())
		return q, turn{}, Request{}, false
	}
	t := q.turn()
	return q, t, Request{API: "anthropic", Path: r.URL.Path, Model: q.Model, Tools: t.tools, ToolResult: t.result, Body: body}, true
}

func refuseAnthropic(w http.ResponseWriter) func(string) {
	return func(why string) { anthropicError(w, http.StatusBadRequest, "invalid_request_error", why) }
}

// anthropicMessages serves POST /v1/messages, streamed or not.
func (s *Server) anthropicMessages(w http.ResponseWriter, r *http.Request) {
	q, t, rec, ok := readAnthropic(w, r)
	if !ok {
		return
	}
	d, ok := s.answer(rec, t, Anthropic.Check(t.tools), refuseAnthropic(w))
	if !ok {
		return
	}
	var block map[string]any
	stop := "end_turn"
	if d.call != "" {
		block = map[string]any{"type": "tool_use", "id": callID, "name": d.call, "input": d.args}
		if d.args == nil {
			block["input"] = map[string]any{}
		}
		stop = "tool_use"
	} else {
		block = map[string]any{"type": "text", "text": d.text}
	}
	usage := map[string]any{"input_tokens": 10, "output_tokens": 5}
	msg := map[string]any{"id": "msg_ica", "type": "message", "role": "assistant", "model": q.Model,
		"content": []any{block}, "stop_reason": stop, "stop_sequence": nil, "usage": usage}
	if !q.Stream {
		writeJSON(w, http.StatusOK, msg)
		return
	}
	e := newSSE(w)
	start := map[string]any{}
	for k, v := range msg {
		start[k] = v
	}
	start["content"], start["stop_reason"] = []any{}, nil
	e.event("message_start", map[string]any{"type": "message_start", "message": start})
	if d.call != "" {
		e.event("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
			"content_block": map[string]any{"type": "tool_use", "id": callID, "name": d.call, "input": map[string]any{}}})
		e.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]any{"type": "input_json_delta", "partial_json": d.argsJSON()}})
	} else {
		e.event("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
			"content_block": map[string]any{"type": "text", "text": ""}})
		e.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]any{"type": "text_delta", "text": d.text}})
	}
	e.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	e.event("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil}, "usage": map[string]any{"output_tokens": 5}})
	e.event("message_stop", map[string]any{"type": "message_stop"})
}

// anthropicCountTokens serves the token counter some runtimes call before
// a turn; it checks the tools as the real one does.
func (s *Server) anthropicCountTokens(w http.ResponseWriter, r *http.Request) {
	_, t, rec, ok := readAnthropic(w, r)
	if !ok {
		return
	}
	if why := Anthropic.Check(t.tools); why != "" {
		rec.Refused = why
		s.record(rec)
		refuseAnthropic(w)(why)
		return
	}
	rec.Answer = "count"
	s.record(rec)
	writeJSON(w, http.StatusOK, map[string]any{"input_tokens": 100})
}
