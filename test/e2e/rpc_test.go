package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rpc is a minimal MCP client over a child's stdio that keeps every message
// as raw bytes, so tests can compare exactly what crossed the wire.
type rpc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *syncBuffer

	mu      sync.Mutex
	nextID  int
	pending map[string]chan json.RawMessage
	notes   []json.RawMessage
	noteCh  chan struct{}
	bad     []string // stdout lines that were not JSON-RPC
	stray   []string // answers to no pending request
	done    chan struct{}
	// answer gives the result for the server's requests by method; a
	// method without one is refused.
	answer map[string]func(params json.RawMessage) string
	asked  []json.RawMessage // the server's requests, as received
	all    []json.RawMessage // every message received, in order
}

// onRequest makes the client answer the server's method requests with the
// result fn returns.
func (c *rpc) onRequest(method string, fn func(params json.RawMessage) string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.answer == nil {
		c.answer = map[string]func(json.RawMessage) string{}
	}
	c.answer[method] = fn
}

// requestsReceived returns the server's requests with method.
func (c *rpc) requestsReceived(method string) []json.RawMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []json.RawMessage
	for _, m := range c.asked {
		if strings.Contains(string(m), `"method":"`+method+`"`) {
			out = append(out, m)
		}
	}
	return out
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startRPC starts cmd and speaks JSON-RPC on its stdio.
func startRPC(t *testing.T, cmd *exec.Cmd) *rpc {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &rpc{t: t, cmd: cmd, stdin: stdin, stderr: &syncBuffer{}, pending: map[string]chan json.RawMessage{},
		noteCh: make(chan struct{}, 1), done: make(chan struct{})}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go c.read(stdout)
	t.Cleanup(func() {
		_ = c.stdin.Close()
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
		}
		_ = c.cmd.Wait()
		// The binaries `make test` runs are built with -race: a race they
		// find is a failure of the test that provoked it.
		if strings.Contains(c.stderr.String(), "WARNING: DATA RACE") {
			t.Errorf("the race detector reported a data race in %s", cmd.Path)
		}
		if t.Failed() {
			t.Logf("stderr of %s:\n%s", cmd.Path, c.stderr.String())
		}
	})
	return c
}

// startProxy starts `ica-mcp-proxy` (serve) in e and initializes it.
func startProxy(t *testing.T, e *env) *rpc {
	t.Helper()
	c := startRPC(t, e.command())
	c.initialize()
	return c
}

func (c *rpc) read(r io.Reader) {
	defer close(c.done)
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			c.dispatch(bytes.TrimSpace(line))
		}
		if err != nil {
			c.mu.Lock()
			for _, ch := range c.pending {
				close(ch)
			}
			c.pending = map[string]chan json.RawMessage{}
			c.mu.Unlock()
			return
		}
	}
}

func (c *rpc) dispatch(line []byte) {
	var env struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	if err := json.Unmarshal(line, &env); err != nil || (env.ID == nil && env.Method == "") {
		c.mu.Lock()
		c.bad = append(c.bad, string(line))
		c.mu.Unlock()
		return
	}
	msg := append(json.RawMessage(nil), line...)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.all = append(c.all, msg)
	if env.Method != "" {
		if env.ID != nil {
			c.asked = append(c.asked, msg)
			if fn := c.answer[env.Method]; fn != nil {
				var p struct {
					Params json.RawMessage `json:"params"`
				}
				_ = json.Unmarshal(msg, &p)
				go func() {
					c.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":%s}`, env.ID, fn(p.Params)))
				}()
				return
			}
			// A request from the server: answer that it is not supported.
			go c.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"error":{"code":-32601,"message":"not supported"}}`, env.ID))
			return
		}
		c.notes = append(c.notes, msg)
		select {
		case c.noteCh <- struct{}{}:
		default:
		}
		return
	}
	if ch, ok := c.pending[string(env.ID)]; ok {
		delete(c.pending, string(env.ID))
		ch <- msg
		return
	}
	c.stray = append(c.stray, string(line))
}

// strayAnswers returns the answers to ids the client was not waiting for:
// a second answer to one request, or an answer to one never sent.
func (c *rpc) strayAnswers() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.stray...)
}

func (c *rpc) send(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = io.WriteString(c.stdin, line+"\n")
}

// request sends method with params and returns the whole raw response and
// the id used.
func (c *rpc) request(ctx context.Context, method string, params any) (json.RawMessage, string, error) {
	c.mu.Lock()
	c.nextID++
	id := strconv.Itoa(c.nextID)
	ch := make(chan json.RawMessage, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	p, err := json.Marshal(params)
	if err != nil {
		return nil, id, err
	}
	c.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":%q,"params":%s}`, id, method, p))
	select {
	case msg, ok := <-ch:
		if !ok {
			return nil, id, fmt.Errorf("%s: connection closed", method)
		}
		return msg, id, nil
	case <-ctx.Done():
		return nil, id, fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// result sends a request and returns its raw result, failing the test on a
// JSON-RPC error.
func (c *rpc) result(method string, params any) json.RawMessage {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	msg, _, err := c.request(ctx, method, params)
	if err != nil {
		c.t.Fatal(err)
	}
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(msg, &r); err != nil {
		c.t.Fatalf("%s: bad response %s", method, msg)
	}
	if r.Error != nil {
		c.t.Fatalf("%s: error %s", method, r.Error)
	}
	return r.Result
}

func (c *rpc) initialize() json.RawMessage {
	c.t.Helper()
	return c.initializeWith(map[string]any{})
}

// initializeWith initializes declaring the client capabilities caps.
func (c *rpc) initializeWith(caps map[string]any) json.RawMessage {
	c.t.Helper()
	res := c.result("initialize", map[string]any{
		"protocolVersion": "2025-06-18",
		"capabilities":    caps,
		"clientInfo":      map[string]any{"name": "e2e", "version": "1"},
	})
	c.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return res
}

// callTool calls a tool and returns the raw result.
func (c *rpc) callTool(name string, args any) json.RawMessage {
	c.t.Helper()
	return c.result("tools/call", map[string]any{"name": name, "arguments": args})
}

// toolNames lists tools/list's names.
func (c *rpc) toolNames() []string {
	c.t.Helper()
	var r struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(c.result("tools/list", map[string]any{}), &r); err != nil {
		c.t.Fatal(err)
	}
	var out []string
	for _, x := range r.Tools {
		out = append(out, x.Name)
	}
	return out
}

// notifications returns the notifications received so far with method.
func (c *rpc) notifications(method string) []json.RawMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []json.RawMessage
	for _, n := range c.notes {
		if strings.Contains(string(n), `"method":"`+method+`"`) {
			out = append(out, n)
		}
	}
	return out
}

// waitNotification waits until a notification with method arrives.
func (c *rpc) waitNotification(method string, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		if len(c.notifications(method)) > 0 {
			return true
		}
		select {
		case <-c.noteCh:
		case <-deadline:
			return false
		}
	}
}

// nonJSON returns the stdout lines that were not JSON-RPC messages.
func (c *rpc) nonJSON() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.bad...)
}

// toolResult decodes the parts of a tool result tests look at.
type toolResult struct {
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	StructuredContent json.RawMessage `json:"structuredContent"`
	IsError           bool            `json:"isError"`
}

func decodeResult(t *testing.T, raw json.RawMessage) toolResult {
	t.Helper()
	var r toolResult
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("not a tool result: %s", raw)
	}
	return r
}

func (r toolResult) text() string {
	var parts []string
	for _, c := range r.Content {
		if c.Type == "text" {
			parts = append(parts, c.Text)
		}
	}
	return strings.Join(parts, "\n")
}
