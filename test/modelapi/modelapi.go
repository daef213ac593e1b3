// Package modelapi is a model API on loopback that plays the model for the
// agent runtimes under test (Claude Code, Codex, Gemini CLI, OpenCode). It
// speaks the wire format each runtime uses (Anthropic Messages, OpenAI
// Responses and Chat Completions, Gemini generateContent), enforces what
// the real service documents about the tools it is sent (the name pattern
// and length, the number of tools) by refusing the whole request as the
// real one does, records every request, and follows one script: call the
// tool whose name ends with a given suffix, then answer with that call's
// result.
//
// It is a fake in the sense of the project's testing rules: the real model
// APIs are out of reach here, so this one keeps their documented rules.
package modelapi

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
)

// Rules are what a provider documents about the tools of a request.
type Rules struct {
	// Provider names the service in errors ("anthropic").
	Provider string
	// Name is the pattern every tool name must match, length included.
	Name *regexp.Regexp
	// NameRule is the rule as the provider's docs state it.
	NameRule string
	// MaxTools bounds the tools of one request (0: no bound).
	MaxTools int
}

var (
	// Anthropic: "Must match the regex ^[a-zA-Z0-9_-]{1,64}$".
	Anthropic = Rules{Provider: "anthropic", Name: regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`), NameRule: "^[a-zA-Z0-9_-]{1,64}$"}
	// OpenAI: "a-z, A-Z, 0-9, or contain underscores and dashes, with a
	// maximum length of 64", and at most 128 tools in a request.
	OpenAI = Rules{Provider: "openai", Name: regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`), NameRule: "^[a-zA-Z0-9_-]{1,64}$", MaxTools: 128}
	// Gemini: "Must start with a letter or an underscore. Must be a-z, A-Z,
	// 0-9, or contain underscores, dots, colons and dashes, with a maximum
	// length of 64."
	Gemini = Rules{Provider: "gemini", Name: regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$`), NameRule: "start with a letter or an underscore; a-z, A-Z, 0-9, underscores, dots, colons and dashes; at most 64"}
)

// Check returns why the provider would refuse tools, or "".
func (r Rules) Check(tools []string) string { return r.check(tools, len(tools)) }

// check checks the names (functions' and namespaces') and the number of
// tools.
func (r Rules) check(names []string, count int) string {
	if r.MaxTools > 0 && count > r.MaxTools {
		return fmt.Sprintf("%d tools: at most %d are allowed", count, r.MaxTools)
	}
	for i, n := range names {
		if !r.Name.MatchString(n) {
			return fmt.Sprintf("tools[%d].name %q does not match %s", i, n, r.NameRule)
		}
	}
	return ""
}

// Script is what the model does in a turn that offers tools.
type Script struct {
	// ToolSuffix picks the tool to call: the first offered name ending
	// with it.
	ToolSuffix string
	// Args are the call's arguments.
	Args map[string]any
}

// Request is one request the API was sent, as recorded.
type Request struct {
	// API is the wire format: anthropic, responses, chat or gemini.
	API   string
	Path  string
	Model string
	// Tools are the offered tool names, in order.
	Tools []string
	// ToolResult is the text of the scripted call's result, when the
	// request carried it.
	ToolResult string
	// Refused says why the request was refused, as the provider would.
	Refused string
	// Answer is what the model did: "call NAME", "text ...".
	Answer string
	// Body is the request as sent.
	Body []byte
}

// Server is the fake API. Its zero value is not usable; see Start.
type Server struct {
	// URL is the base URL, http://127.0.0.1:PORT.
	URL string
	srv *http.Server

	mu     sync.Mutex
	script Script
	reqs   []Request
}

// callID is the id of the scripted tool call in every format.
const callID = "call_ica_1"

// Start serves the fake API on a loopback port until Close.
func Start(script Script) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), script: script}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/messages", s.anthropicMessages)
	mux.HandleFunc("POST /v1/messages/count_tokens", s.anthropicCountTokens)
	mux.HandleFunc("POST /v1/responses", s.openaiResponses)
	mux.HandleFunc("POST /v1/chat/completions", s.openaiChat)
	mux.HandleFunc("GET /v1/models", s.models)
	mux.HandleFunc("POST /v1beta/models/{call}", s.gemini)
	mux.HandleFunc("/", s.unknown)
	s.srv = &http.Server{Handler: mux}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// SetScript replaces the script for the requests that follow.
func (s *Server) SetScript(script Script) {
	s.mu.Lock()
	s.script = script
	s.mu.Unlock()
}

func (s *Server) currentScript() Script {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.script
}

// Requests returns what was recorded so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r)
	s.mu.Unlock()
}

// turn is what a request asks of the model, in any format.
type turn struct {
	tools []string
	// result is the scripted call's result, found among the messages.
	result    string
	hasResult bool
	// jsonSchema is set when the request asks for JSON matching it (a
	// runtime's side request, such as Gemini CLI's model router).
	jsonSchema map[string]any
}

// decision is what the model answers.
type decision struct {
	// call is the tool to call ("" for text).
	call string
	args map[string]any
	text string
}

// decide applies the script.
func (s *Server) decide(t turn) decision {
	script := s.currentScript()
	switch {
	case t.hasResult:
		return decision{text: "The tool answered: " + t.result}
	case t.jsonSchema != nil:
		b, _ := json.Marshal(fromSchema(t.jsonSchema))
		return decision{text: string(b)}
	case len(t.tools) == 0:
		return decision{text: "ok"}
	}
	for _, n := range t.tools {
		if script.ToolSuffix != "" && strings.HasSuffix(n, script.ToolSuffix) {
			return decision{call: n, args: script.Args}
		}
	}
	return decision{text: fmt.Sprintf("no tool ending in %q among the %d offered", script.ToolSuffix, len(t.tools))}
}

// answer records the request and decides the model's answer; a request
// the provider would refuse (why) is recorded as refused and answered
// with refuse instead.
func (s *Server) answer(rec Request, t turn, why string, refuse func(why string)) (decision, bool) {
	if why != "" {
		rec.Refused = why
		s.record(rec)
		refuse(why)
		return decision{}, false
	}
	d := s.decide(t)
	rec.Answer = d.String()
	s.record(rec)
	return d, true
}

func (d decision) String() string {
	if d.call != "" {
		return "call " + d.call
	}
	return "text " + d.text
}

func (d decision) argsJSON() string {
	b, _ := json.Marshal(d.args)
	if d.args == nil {
		b = []byte("{}")
	}
	return string(b)
}

func (s *Server) unknown(w http.ResponseWriter, r *http.Request) {
	s.record(Request{API: "unknown", Path: r.Method + " " + r.URL.Path, Refused: "no such endpoint"})
	http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []any{}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// sse writes server-sent events and flushes each.
type sse struct {
	w http.ResponseWriter
}

func newSSE(w http.ResponseWriter) sse {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	return sse{w: w}
}

// event writes one event; name may be empty.
func (e sse) event(name string, data any) {
	b, ok := data.([]byte)
	if !ok {
		b, _ = json.Marshal(data)
	}
	if name != "" {
		_, _ = fmt.Fprintf(e.w, "event: %s\n", name)
	}
	_, _ = fmt.Fprintf(e.w, "data: %s\n\n", b)
	if f, ok := e.w.(http.Flusher); ok {
		f.Flush()
	}
}

// textOf flattens an MCP-result-like value a runtime sends back as a tool
// result (a string, or content blocks with text) into its text.
func textOf(v any) string {
	switch x := v.(type) {
	case string:
		// Some runtimes send the result's JSON as a string.
		var inner any
		if json.Unmarshal([]byte(x), &inner) == nil {
			if t := textOf(inner); t != "" {
				return t
			}
		}
		return x
	case []any:
		var parts []string
		for _, e := range x {
			if t := textOf(e); t != "" {
				parts = append(parts, t)
			}
		}
		return strings.Join(parts, "\n")
	case map[string]any:
		for _, k := range []string{"text", "content", "output", "result", "response"} {
			if e, ok := x[k]; ok {
				if t := textOf(e); t != "" {
					return t
				}
			}
		}
	}
	return ""
}
