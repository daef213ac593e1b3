package modelapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// geminiRequest is the part of a generateContent request the fake reads.
type geminiRequest struct {
	Contents []struct {
		Role  string `json:"role"`
		Parts []struct {
			FunctionResponse *struct {
				ID       string `json:"id"`
				Name     string `json:"name"`
				Response any    `json:"response"`
			} `json:"functionResponse"`
		} `json:"parts"`
	} `json:"contents"`
	GenerationConfig struct {
		ResponseMimeType   string         `json:"responseMimeType"`
		ResponseSchema     map[string]any `json:"responseSchema"`
		ResponseJSONSchema map[string]any `json:"responseJsonSchema"`
	} `json:"generationConfig"`
	Tools []struct {
		FunctionDeclarations []struct {
			Name string `json:"name"`
		} `json:"functionDeclarations"`
	} `json:"tools"`
}

func (q geminiRequest) turn(suffix string) turn {
	var t turn
	for _, tool := range q.Tools {
		for _, f := range tool.FunctionDeclarations {
			t.tools = append(t.tools, f.Name)
		}
	}
	for _, c := range q.Contents {
		for _, p := range c.Parts {
			// Gemini's function calls carry an id only sometimes; the
			// response names the function either way.
			if f := p.FunctionResponse; f != nil && (f.ID == callID || suffix != "" && strings.HasSuffix(f.Name, suffix)) {
				t.result, t.hasResult = textOf(f.Response), true
			}
		}
	}
	return t
}

func geminiError(w http.ResponseWriter, code int, status, msg string) {
	writeJSON(w, code, map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}})
}

// gemini serves POST /v1beta/models/MODEL:generateContent,
// :streamGenerateContent and :countTokens.
func (s *Server) gemini(w http.ResponseWriter, r *http.Request) {
	model, method, _ := strings.Cut(r.PathValue("call"), ":")
	body, _ := io.ReadAll(r.Body)
	var q geminiRequest
	if err := json.Unmarshal(body, &q); err != nil {
		geminiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "malformed request: "+err.Error())
		return
	}
	t := q.turn(s.currentScript().ToolSuffix)
	rec := Request{API: "gemini", Path: r.URL.Path, Model: model, Tools: t.tools, ToolResult: t.result, Body: body}
	if why := Gemini.Check(t.tools); why != "" {
		rec.Refused = why
		s.record(rec)
		geminiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", fmt.Sprintf("* GenerateContentRequest.tools: Invalid function name: %s", why))
		return
	}
	switch method {
	case "countTokens":
		rec.Answer = "count"
		s.record(rec)
		writeJSON(w, http.StatusOK, map[string]any{"totalTokens": 100})
		return
	case "generateContent", "streamGenerateContent":
	default:
		rec.Refused = "unknown method " + method
		s.record(rec)
		geminiError(w, http.StatusNotFound, "NOT_FOUND", "unknown method "+method)
		return
	}
	if gc := q.GenerationConfig; gc.ResponseMimeType == "application/json" {
		t.jsonSchema = gc.ResponseJSONSchema
		if t.jsonSchema == nil {
			t.jsonSchema = gc.ResponseSchema
		}
		if t.jsonSchema == nil {
			t.jsonSchema = map[string]any{}
		}
	}
	d, _ := s.answer(rec, t, "", nil)

	var part map[string]any
	if d.call != "" {
		args := d.args
		if args == nil {
			args = map[string]any{}
		}
		part = map[string]any{"functionCall": map[string]any{"id": callID, "name": d.call, "args": args}}
	} else {
		part = map[string]any{"text": d.text}
	}
	resp := map[string]any{
		"candidates":    []any{map[string]any{"index": 0, "finishReason": "STOP", "content": map[string]any{"role": "model", "parts": []any{part}}}},
		"usageMetadata": map[string]any{"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
		"modelVersion":  model,
	}
	if method == "generateContent" {
		writeJSON(w, http.StatusOK, resp)
		return
	}
	newSSE(w).event("", resp)
}

// fromSchema is the smallest value a JSON schema (or a Gemini Schema,
// whose types are upper case) accepts: required members only, the first
// enum value, the minimum number.
func fromSchema(schema map[string]any) any {
	if e, ok := schema["enum"].([]any); ok && len(e) > 0 {
		return e[0]
	}
	typ, _ := schema["type"].(string)
	switch strings.ToLower(typ) {
	case "object", "":
		out := map[string]any{}
		props, _ := schema["properties"].(map[string]any)
		req, _ := schema["required"].([]any)
		for _, r := range req {
			name, _ := r.(string)
			sub, _ := props[name].(map[string]any)
			out[name] = fromSchema(sub)
		}
		return out
	case "array":
		return []any{}
	case "string":
		return "ok"
	case "integer", "number":
		if m, ok := schema["minimum"].(float64); ok {
			return m
		}
		return 1
	case "boolean":
		return false
	}
	return nil
}
