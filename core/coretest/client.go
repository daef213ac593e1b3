package coretest

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/frontend"
)

// waitLimit bounds every wait of a Client: a test that goes wrong fails
// instead of hanging (in a synctest bubble the bubble's clock runs it out).
const waitLimit = 20 * time.Second

// Client is an MCP client of the core's frontend, over a pair of pipes:
// what it sends is the frontend's stdin, and every line the frontend
// writes is kept, in order.
type Client struct {
	t      testing.TB
	in     *io.PipeWriter
	served chan error

	mu      sync.Mutex
	all     []json.RawMessage
	changed chan struct{} // closed and replaced when a message arrives
	answers map[string]func(params json.RawMessage) string
	ids     int
}

// Serve runs a frontend for the core and returns its client. The frontend
// starts the upstreams on the first request, as the proxy's serve does.
func (c *Core) Serve(t testing.TB) *Client { return c.ServeContext(t, context.Background()) }

// Frontend is a frontend on the core, which starts the upstreams on its
// client's first request as serve does; they stop when ctx ends.
func (c *Core) Frontend(ctx context.Context) *frontend.Server {
	fe := frontend.New(c.Proxy, c.Broker, "test", c.log.Named("frontend"))
	fe.OnStart = func() { c.Proxy.Start(ctx, 0) }
	return fe
}

// ServeContext is Serve until ctx ends.
func (c *Core) ServeContext(t testing.TB, ctx context.Context) *Client {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(ctx)
	fe := c.Frontend(ctx)
	cl := &Client{t: t, in: inW, served: make(chan error, 1), changed: make(chan struct{}), answers: map[string]func(json.RawMessage) string{}}
	go func() {
		err := fe.Serve(ctx, inR, outW)
		_ = outW.Close()
		cl.served <- err
	}()
	read := make(chan struct{})
	go func() {
		defer close(read)
		cl.read(outR)
	}()
	t.Cleanup(func() {
		_ = cl.Close()
		cancel()
		<-read
	})
	return cl
}

func (cl *Client) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	for sc.Scan() {
		msg := json.RawMessage(append([]byte(nil), sc.Bytes()...))
		r := gjson.GetManyBytes(msg, "id", "method", "params")
		cl.mu.Lock()
		answer := cl.answers[r[1].Str]
		cl.mu.Unlock()
		// The answer goes first: once a request is seen, its answer is
		// on its way.
		if answer != nil && r[0].Exists() {
			cl.Send(`{"jsonrpc":"2.0","id":` + r[0].Raw + `,"result":` + answer(json.RawMessage(r[2].Raw)) + `}`)
		}
		cl.mu.Lock()
		cl.all = append(cl.all, msg)
		close(cl.changed)
		cl.changed = make(chan struct{})
		cl.mu.Unlock()
	}
}

// Send writes one message (a line) to the frontend.
func (cl *Client) Send(msg string) {
	if _, err := io.WriteString(cl.in, strings.TrimSpace(msg)+"\n"); err != nil {
		cl.t.Errorf("send: %v", err)
	}
}

// OnRequest answers the frontend's requests of method with the result
// answer gives (raw JSON), from now on.
func (cl *Client) OnRequest(method string, answer func(params json.RawMessage) string) {
	cl.mu.Lock()
	cl.answers[method] = answer
	cl.mu.Unlock()
}

// Messages is everything the client received so far.
func (cl *Client) Messages() []json.RawMessage {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return append([]json.RawMessage(nil), cl.all...)
}

// Next waits for the first message from index from on that match
// accepts, and returns it with its index.
func (cl *Client) Next(from int, match func(json.RawMessage) bool) (json.RawMessage, int) {
	cl.t.Helper()
	timeout := time.NewTimer(waitLimit)
	defer timeout.Stop()
	for {
		cl.mu.Lock()
		all, changed := cl.all, cl.changed
		cl.mu.Unlock()
		for i := from; i < len(all); i++ {
			if match(all[i]) {
				return all[i], i
			}
		}
		from = max(from, len(all))
		select {
		case <-changed:
		case <-timeout.C:
			cl.t.Fatalf("nothing matching came in %v; got %d messages:\n%s", waitLimit, len(all), joinLines(all))
			return nil, -1
		}
	}
}

// Wait returns the answer to the request with the raw id (`1`, `"a"`).
func (cl *Client) Wait(id string) json.RawMessage {
	cl.t.Helper()
	m, _ := cl.Next(0, func(m json.RawMessage) bool {
		r := gjson.GetManyBytes(m, "id", "method")
		return r[0].Raw == id && !r[1].Exists()
	})
	return m
}

// Call sends a request and returns its answer.
func (cl *Client) Call(id, method, params string) json.RawMessage {
	cl.t.Helper()
	cl.Send(`{"jsonrpc":"2.0","id":` + id + `,"method":"` + method + `","params":` + params + `}`)
	return cl.Wait(id)
}

// Ended waits up to d for the frontend to finish on its own, and says
// whether it did and with what.
func (cl *Client) Ended(d time.Duration) (ended bool, err error) {
	select {
	case err := <-cl.served:
		cl.served <- err
		return true, err
	case <-time.After(d):
		return false, nil
	}
}

// Close ends the client's input and waits for the frontend to finish.
func (cl *Client) Close() error {
	_ = cl.in.Close()
	select {
	case err := <-cl.served:
		cl.served <- err
		return err
	case <-time.After(waitLimit):
		cl.t.Errorf("the frontend did not stop within %v", waitLimit)
		return nil
	}
}

func joinLines(all []json.RawMessage) string {
	var b strings.Builder
	for _, m := range all {
		b.Write(m)
		b.WriteByte('\n')
	}
	return b.String()
}

// ToolResult is a tools/call result as a test reads it.
type ToolResult struct {
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	StructuredContent json.RawMessage `json:"structuredContent"`
	IsError           bool            `json:"isError"`
}

// Text is the result's first text.
func (r ToolResult) Text() string {
	for _, c := range r.Content {
		if c.Type == "text" {
			return c.Text
		}
	}
	return ""
}

// Initialize opens a session (2025-11-25) declaring caps (raw JSON).
func (cl *Client) Initialize(caps string) json.RawMessage {
	cl.t.Helper()
	res := cl.Call(`"init"`, "initialize", `{"protocolVersion":"2025-11-25","capabilities":`+caps+`,"clientInfo":{"name":"coretest","version":"1"}}`)
	cl.Send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return res
}

// ToolNames lists the tools (in a session's revision), in the order given.
func (cl *Client) ToolNames() []string {
	cl.t.Helper()
	res := cl.Call(cl.nextID(), "tools/list", `{}`)
	var names []string
	for _, n := range gjson.GetBytes(res, "result.tools.#.name").Array() {
		names = append(names, n.Str)
	}
	return names
}

// CallTool calls a tool and returns its result; a JSON-RPC error fails
// the test.
func (cl *Client) CallTool(name string, args any) ToolResult {
	cl.t.Helper()
	params, _ := json.Marshal(map[string]any{"name": name, "arguments": args})
	res := cl.Call(cl.nextID(), "tools/call", string(params))
	if e := gjson.GetBytes(res, "error"); e.Exists() {
		cl.t.Fatalf("tools/call %s: %s", name, e.Raw)
	}
	var r ToolResult
	if err := json.Unmarshal([]byte(gjson.GetBytes(res, "result").Raw), &r); err != nil {
		cl.t.Fatalf("tools/call %s: %v: %s", name, err, res)
	}
	return r
}

// nextID is a fresh request id.
func (cl *Client) nextID() string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.ids++
	return `"c` + strconv.Itoa(cl.ids) + `"`
}
