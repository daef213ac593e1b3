// Command scripted is an MCP upstream for the wire golden tests: it plays
// the part a JSON script ($SCRIPT) gives it, and records every line it
// receives in $RECORD, so the test can compare the frames that crossed the
// proxy with the golden ones. With $RECORD_READS it also records how many
// lines each read of its input brought.
//
// The script names the revision it speaks ("stateless": 2026-07-28, which
// answers server/discover; or "legacy", which refuses it and answers
// initialize), its tools, and, for each tool, the steps of a call: send a
// request of its own and wait for the answer ("request"), send a
// notification ("notify"), or answer the call ("result", "error"). A tool
// may have several such rounds: a call whose params carry inputResponses
// plays "retry" instead of "steps".
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

type step struct {
	Request *json.RawMessage `json:"request,omitempty"` // {"method":..., "params":...}
	Notify  *json.RawMessage `json:"notify,omitempty"`
	Result  *json.RawMessage `json:"result,omitempty"`
	Error   *json.RawMessage `json:"error,omitempty"`
}

type script struct {
	Revision string `json:"revision"`
	// Capabilities replace the default ({"tools":{}}) in the answer to
	// server/discover or initialize.
	Capabilities json.RawMessage `json:"capabilities"`
	// Methods are the answers to other requests, by method.
	Methods map[string]json.RawMessage `json:"methods"`
	Tools   []json.RawMessage          `json:"tools"`
	Calls   map[string]struct {
		Steps []step `json:"steps"`
		Retry []step `json:"retry"`
	} `json:"calls"`
}

type message struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  json.RawMessage `json:"error,omitempty"`
}

func main() {
	data, err := os.ReadFile(os.Getenv("SCRIPT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "scripted:", err)
		os.Exit(1)
	}
	var sc script
	if err := json.Unmarshal(data, &sc); err != nil {
		fmt.Fprintln(os.Stderr, "scripted:", err)
		os.Exit(1)
	}
	record, err := os.OpenFile(os.Getenv("RECORD"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scripted:", err)
		os.Exit(1)
	}
	p := &player{sc: sc, waiting: map[string]chan message{}}
	var stdin io.Reader = os.Stdin
	if path := os.Getenv("RECORD_READS"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, "scripted:", err)
			os.Exit(1)
		}
		stdin = &readCounter{r: os.Stdin, log: f}
	}
	in := bufio.NewScanner(stdin)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	for in.Scan() {
		line := in.Bytes()
		record.Write(append(append([]byte(nil), line...), '\n'))
		var m message
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		p.handle(m)
	}
}

// readCounter writes, for each read of its input, how many lines ended in
// it ($RECORD_READS): how the proxy's writes reached the upstream.
type readCounter struct {
	r   io.Reader
	log io.Writer
}

func (c *readCounter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if n > 0 {
		fmt.Fprintln(c.log, bytes.Count(b[:n], []byte{'\n'}))
	}
	return n, err
}

type player struct {
	sc      script
	outMu   sync.Mutex
	mu      sync.Mutex
	next    int
	waiting map[string]chan message
}

func (p *player) write(v any) {
	data, _ := json.Marshal(v)
	p.outMu.Lock()
	defer p.outMu.Unlock()
	os.Stdout.Write(append(data, '\n'))
}

func (p *player) answer(id json.RawMessage, result string) {
	p.write(map[string]any{"jsonrpc": "2.0", "id": id, "result": json.RawMessage(result)})
}

func (p *player) fail(id json.RawMessage, code int, msg string) {
	p.write(map[string]any{"jsonrpc": "2.0", "id": id, "error": map[string]any{"code": code, "message": msg}})
}

func (p *player) handle(m message) {
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
		return // notifications are recorded, nothing more
	}
	stateless := p.sc.Revision == "stateless"
	caps := `{"tools":{}}`
	if p.sc.Capabilities != nil {
		caps = string(p.sc.Capabilities)
	}
	if result, ok := p.sc.Methods[m.Method]; ok {
		p.answer(m.ID, string(result))
		return
	}
	switch m.Method {
	case "server/discover":
		if !stateless {
			p.fail(m.ID, -32601, "method not found")
			return
		}
		p.answer(m.ID, `{"resultType":"complete","supportedVersions":["2026-07-28"],"capabilities":`+caps+`,"serverInfo":{"name":"scripted","version":"1"}}`)
	case "initialize":
		if stateless {
			p.fail(m.ID, -32601, "initialize was removed in 2026-07-28")
			return
		}
		p.answer(m.ID, `{"protocolVersion":"2025-11-25","capabilities":`+caps+`,"serverInfo":{"name":"scripted","version":"1"}}`)
	case "ping":
		p.answer(m.ID, `{}`)
	case "tools/list":
		tools, _ := json.Marshal(p.sc.Tools)
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

func (p *player) call(m message) {
	var params struct {
		Name           string          `json:"name"`
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
	for _, s := range steps {
		switch {
		case s.Request != nil:
			p.mu.Lock()
			p.next++
			id := fmt.Sprintf(`"s%d"`, p.next)
			ch := make(chan message, 1)
			p.waiting[id] = ch
			p.mu.Unlock()
			var req map[string]any
			_ = json.Unmarshal(*s.Request, &req)
			req["jsonrpc"], req["id"] = "2.0", json.RawMessage(id)
			p.write(req)
			<-ch
		case s.Notify != nil:
			var n map[string]any
			_ = json.Unmarshal(*s.Notify, &n)
			n["jsonrpc"] = "2.0"
			p.write(n)
		case s.Result != nil:
			p.answer(m.ID, strings.TrimSpace(string(*s.Result)))
		case s.Error != nil:
			p.write(map[string]any{"jsonrpc": "2.0", "id": m.ID, "error": s.Error})
		}
	}
}
