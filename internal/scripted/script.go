// Package scripted is an MCP upstream that plays a JSON script: the server
// of the wire goldens and of the core's in-process tests. The same player
// runs as a process (test/e2e/scripted, on stdin and stdout) and in-process
// as an sdk.Transport (Transport), so a golden replays either way.
//
// A script names the revision the server speaks ("stateless": 2026-07-28,
// which answers server/discover; or "legacy", which refuses it and answers
// initialize), its tools, and, for each tool, the steps of a call: send a
// request of its own and wait for the answer ("request"), send a
// notification ("notify"), answer the call ("result", "error"), or end the
// session ("exit"). A tool may have several rounds: a call whose params
// carry inputResponses plays "retry" instead of "steps".
package scripted

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/tidwall/gjson"
)

// Step is one thing a scripted call does.
type Step struct {
	// Request is {"method":..., "params":...}: sent under a fresh id, and
	// the call waits for its answer.
	Request json.RawMessage `json:"request,omitempty"`
	// Notify is {"method":..., "params":...}; a "$progressToken" in it
	// stands for the call's progress token.
	Notify json.RawMessage `json:"notify,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  json.RawMessage `json:"error,omitempty"`
	// Echo answers the call with its "message" argument as text (or the
	// arguments as JSON when there is none).
	Echo bool `json:"echo,omitempty"`
	// Exit ends the session with this exit code (in-process only: the
	// process form exits).
	Exit *int `json:"exit,omitempty"`
}

// Call is what a tool does when called: Steps, or Retry for a call that
// carries inputResponses.
type Call struct {
	Steps []Step `json:"steps"`
	Retry []Step `json:"retry"`
}

// Script is what a scripted server plays.
type Script struct {
	Revision string `json:"revision"`
	// Capabilities replace the default ({"tools":{}}) in the answer to
	// server/discover or initialize.
	Capabilities json.RawMessage `json:"capabilities,omitempty"`
	// Methods are the answers to other requests, by method.
	Methods map[string]json.RawMessage `json:"methods,omitempty"`
	// Held are methods whose requests are never answered (a
	// subscriptions/listen stream, say).
	Held  map[string]bool   `json:"held,omitempty"`
	Tools []json.RawMessage `json:"tools"`
	Calls map[string]Call   `json:"calls,omitempty"`
	// On are steps played when a notification of a method arrives (a
	// request of the server's own outside any call, say).
	On map[string][]Step `json:"on,omitempty"`
}

// Parse reads a script.
func Parse(data []byte) (Script, error) {
	var sc Script
	if err := json.Unmarshal(data, &sc); err != nil {
		return Script{}, fmt.Errorf("script: %w", err)
	}
	return sc, nil
}

// Revisions a script may speak.
const (
	Stateless = "stateless"
	Legacy    = "legacy"
	// Both answers server/discover and initialize; each request is
	// answered in the revision it names (a stateless one carries it in
	// its _meta).
	Both = "both"
)

type message struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  json.RawMessage `json:"error,omitempty"`
}

// Player plays a script: Handle takes each message the server receives,
// and the server's own go to write, one message at a time.
type Player struct {
	sc    Script
	write func(msg []byte)
	exit  func(code int)

	outMu   sync.Mutex
	mu      sync.Mutex
	next    int
	waiting map[string]chan message
	stop    chan struct{}
	stopped sync.Once
}

// NewPlayer plays sc: the server's messages go to write (never two at
// once), and an "exit" step calls exit.
func NewPlayer(sc Script, write func(msg []byte), exit func(code int)) *Player {
	return &Player{sc: sc, write: write, exit: exit, waiting: map[string]chan message{}, stop: make(chan struct{})}
}

// Stop ends the calls that wait for an answer: the session is gone.
func (p *Player) Stop() { p.stopped.Do(func() { close(p.stop) }) }

func (p *Player) send(v any) {
	data, _ := json.Marshal(v)
	p.outMu.Lock()
	defer p.outMu.Unlock()
	p.write(data)
}

func (p *Player) answer(id json.RawMessage, result string) {
	p.send(map[string]any{"jsonrpc": "2.0", "id": id, "result": json.RawMessage(result)})
}

func (p *Player) fail(id json.RawMessage, code int, msg string) {
	p.send(map[string]any{"jsonrpc": "2.0", "id": id, "error": map[string]any{"code": code, "message": msg}})
}

// Handle plays the server's part for one message it received; a call's
// steps run on their own goroutine.
func (p *Player) Handle(line []byte) {
	var m message
	if json.Unmarshal(line, &m) != nil {
		return
	}
	if m.Method == "" { // an answer to one of ours
		p.mu.Lock()
		ch := p.waiting[string(m.ID)]
		delete(p.waiting, string(m.ID))
		p.mu.Unlock()
		if ch != nil {
			ch <- m
		}
		return
	}
	if m.ID == nil {
		if steps := p.sc.On[m.Method]; steps != nil {
			go p.play(nil, nil, nil, steps)
		}
		return
	}
	stateless := p.sc.Revision == Stateless ||
		p.sc.Revision == Both && gjson.GetBytes(m.Params, `_meta.io\.modelcontextprotocol/protocolVersion`).Exists()
	caps := `{"tools":{}}`
	if p.sc.Capabilities != nil {
		caps = string(p.sc.Capabilities)
	}
	if p.sc.Held[m.Method] {
		return
	}
	if result, ok := p.sc.Methods[m.Method]; ok {
		p.answer(m.ID, string(result))
		return
	}
	switch m.Method {
	case "server/discover":
		if !stateless && p.sc.Revision != Both {
			p.fail(m.ID, -32601, "method not found")
			return
		}
		p.answer(m.ID, `{"resultType":"complete","supportedVersions":["2026-07-28"],"capabilities":`+caps+`,"serverInfo":{"name":"scripted","version":"1"}}`)
	case "initialize":
		if p.sc.Revision == Stateless {
			p.fail(m.ID, -32601, "initialize was removed in 2026-07-28")
			return
		}
		p.answer(m.ID, `{"protocolVersion":"2025-11-25","capabilities":`+caps+`,"serverInfo":{"name":"scripted","version":"1"}}`)
	case "ping":
		p.answer(m.ID, `{}`)
	case "tools/list":
		tools, _ := json.Marshal(p.sc.Tools)
		if p.sc.Tools == nil {
			tools = []byte("[]")
		}
		head := `{`
		if stateless {
			head = `{"resultType":"complete","ttlMs":60000,"cacheScope":"private",`
		}
		p.answer(m.ID, head+`"tools":`+string(tools)+`}`)
	case "tools/call":
		go p.call(m)
	default:
		p.fail(m.ID, -32601, "method not found: "+m.Method)
	}
}

func (p *Player) call(m message) {
	var params struct {
		Name           string          `json:"name"`
		Arguments      json.RawMessage `json:"arguments"`
		InputResponses json.RawMessage `json:"inputResponses"`
	}
	_ = json.Unmarshal(m.Params, &params)
	c, ok := p.sc.Calls[params.Name]
	if !ok {
		p.fail(m.ID, -32602, "unknown tool "+params.Name)
		return
	}
	steps := c.Steps
	if params.InputResponses != nil {
		steps = c.Retry
	}
	p.play(m.ID, params.Arguments, json.RawMessage(gjson.GetBytes(m.Params, "_meta.progressToken").Raw), steps)
}

// play runs steps; id, args and token (its progress token) are the
// call's, whose answer a result, echo or error step gives.
func (p *Player) play(id, args, token json.RawMessage, steps []Step) {
	for _, s := range steps {
		switch {
		case s.Request != nil:
			p.mu.Lock()
			p.next++
			ask := fmt.Sprintf(`"s%d"`, p.next)
			ch := make(chan message, 1)
			p.waiting[ask] = ch
			p.mu.Unlock()
			var req map[string]any
			_ = json.Unmarshal(s.Request, &req)
			req["jsonrpc"], req["id"] = "2.0", json.RawMessage(ask)
			p.send(req)
			select {
			case <-ch:
			case <-p.stop:
				return
			}
		case s.Notify != nil:
			notify := s.Notify
			if len(token) > 0 {
				notify = bytes.ReplaceAll(notify, []byte(`"$progressToken"`), token)
			}
			var n map[string]any
			_ = json.Unmarshal(notify, &n)
			n["jsonrpc"] = "2.0"
			p.send(n)
		case s.Result != nil:
			p.answer(id, strings.TrimSpace(string(s.Result)))
		case s.Error != nil:
			p.send(map[string]any{"jsonrpc": "2.0", "id": id, "error": s.Error})
		case s.Echo:
			var a struct {
				Message *string `json:"message"`
			}
			text := string(args)
			if json.Unmarshal(args, &a) == nil && a.Message != nil {
				text = *a.Message
			}
			content, _ := json.Marshal([]map[string]string{{"type": "text", "text": text}})
			p.answer(id, `{"content":`+string(content)+`}`)
		case s.Exit != nil:
			if p.exit != nil {
				p.exit(*s.Exit)
			}
			return
		}
	}
}
