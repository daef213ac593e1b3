package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startDemoHTTP runs the Go demo upstream with its revision-test features
// over streamable HTTP (mcp-go: every revision, 2026-07-28 included) and
// returns its URL.
func startDemoHTTP(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(demoBin(), "-http", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "ICA_DEMO_FEATURES=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	startTree(t, cmd, nil)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("demo upstream over HTTP: %v", err)
	}
	return strings.TrimSpace(line)
}

// revClient is a client of one protocol revision: the initialize ones
// answer the proxy's requests; a 2026-07-28 one names its revision in
// every request and answers input_required results by retrying.
type revClient struct {
	*rpc
	t       *testing.T
	version string
	caps    map[string]any
	// name, when set, is the name the client's user gives when asked
	// (elicitation), so that an answer shows whose it is.
	name string
}

// answer is what the client's user or model answers to method.
func (c *revClient) answer(method string) string {
	if method == "elicitation/create" && c.name != "" {
		return `{"action":"accept","content":{"ok":true,"name":"` + c.name + `"}}`
	}
	return cannedAnswer(method)
}

func (c *revClient) modern() bool { return c.version == "2026-07-28" } // shadows rpc.modern: use c.rpc.modern for that

// The answers the client's user and model give, whichever way asked.
func cannedAnswer(method string) string {
	switch method {
	case "elicitation/create":
		return `{"action":"accept","content":{"ok":true,"name":"Ada"}}`
	case "sampling/createMessage":
		return `{"role":"assistant","content":{"type":"text","text":"canned-model-answer"},"model":"e2e","stopReason":"endTurn"}`
	case "roots/list":
		return `{"roots":[{"uri":"file:///e2e/root","name":"e2e"}]}`
	}
	return `{}`
}

func newRevClient(t *testing.T, e *env, version string) *revClient {
	return newNamedRevClient(t, e, version, "")
}

// newNamedRevClient is newRevClient whose user gives name when asked.
func newNamedRevClient(t *testing.T, e *env, version, name string) *revClient {
	c := &revClient{rpc: startRPC(t, e.command()), t: t, version: version, name: name,
		caps: map[string]any{"elicitation": map[string]any{}, "sampling": map[string]any{}, "roots": map[string]any{"listChanged": true}}}
	if c.modern() {
		return c
	}
	for _, m := range []string{"elicitation/create", "sampling/createMessage", "roots/list"} {
		c.onRequest(m, func(json.RawMessage) string { return c.answer(m) })
	}
	c.result("initialize", map[string]any{"protocolVersion": version, "capabilities": c.caps, "clientInfo": map[string]any{"name": "e2e-" + version, "version": "1"}})
	c.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return c
}

// call sends a request in the client's revision and returns the final
// result (after any input rounds) and how many rounds it took.
func (c *revClient) call(method string, params map[string]any) (json.RawMessage, int) {
	c.t.Helper()
	if !c.modern() {
		return c.result(method, params), 0
	}
	for rounds := 0; ; rounds++ {
		res := c.modernResult(method, params, c.caps)
		var ir inputRequired
		_ = json.Unmarshal(res, &ir)
		if ir.ResultType != "input_required" {
			return res, rounds
		}
		if rounds > 4 {
			c.t.Fatalf("%s: still asking after %d rounds: %s", method, rounds, res)
		}
		responses := map[string]json.RawMessage{}
		for k, req := range ir.InputRequests {
			responses[k] = json.RawMessage(c.answer(req.Method))
		}
		next := map[string]any{}
		for k, v := range params {
			if k != "_meta" && k != "inputResponses" && k != "requestState" {
				next[k] = v
			}
		}
		next["inputResponses"] = responses
		if ir.RequestState != "" {
			next["requestState"] = ir.RequestState
		}
		params = next
	}
}

func (c *revClient) tool(name string, args map[string]any) string {
	c.t.Helper()
	if args == nil {
		args = map[string]any{}
	}
	res, _ := c.call("tools/call", map[string]any{"name": name, "arguments": args})
	if strings.Contains(string(res), `"resultType":"input_required"`) {
		c.t.Fatalf("%s: input_required reached a client of %s: %s", name, c.version, res)
	}
	return decodeResult(c.t, res).text()
}

// TestRevisionMatrix runs the features that cross the proxy for clients of
// three revisions, against server-everything (2025-11-25, stdio) and the
// Go demo upstream speaking 2026-07-28 over stdio and over streamable
// HTTP: listing, calls, elicitation, sampling and roots (requests one way,
// input_required the other), progress, logging, list changes, resources
// and prompts, and cancellation.
func TestRevisionMatrix(t *testing.T) {
	t.Parallel()
	needPeers(t)
	e := newEnv(t)
	demo := demoServer()
	demo["env"] = map[string]any{"ICA_DEMO_FEATURES": "1"}
	e.writeProject(t, map[string]any{
		"everything": everythingServer(),
		"demo":       demo,
		"web":        map[string]any{"type": "http", "url": startDemoHTTP(t) + ""},
	})
	// What each server offers is learned once, as a user's first run
	// does (mcp-upstreams.json): each client's initialize then declares
	// resources and prompts at once, however long node takes to start on
	// a busy machine (the answer waits at most a second for servers it
	// does not know).
	if out, err := e.command("servers").CombinedOutput(); err != nil {
		t.Fatalf("servers: %v\n%s", err, out)
	}
	for _, version := range []string{"2025-06-18", "2025-11-25", "2026-07-28"} {
		t.Run(version, func(t *testing.T) {
			// Each client meets the servers as they start: no tool cache
			// from the run before (whose demo had grown a tool).
			_ = os.Remove(filepath.Join(e.home, "mcp-tool-cache.json"))
			c := newRevClient(t, e, version)
			names, _ := c.call("tools/list", map[string]any{})
			for _, want := range []string{"everything.echo", "everything.trigger-elicitation-request", "demo.confirm", "web.confirm", "web.ask_model"} {
				if !strings.Contains(string(names), `"`+want+`"`) {
					t.Fatalf("tools/list lacks %s", want)
				}
			}
			for _, server := range []string{"everything", "demo", "web"} {
				if got := c.tool(server+".echo", map[string]any{"message": "m-" + server}); !strings.Contains(got, "m-"+server) {
					t.Errorf("%s.echo: %q", server, got)
				}
			}

			// Elicitation, sampling, roots: the two stateless servers ask
			// with input_required, server-everything with requests.
			for _, name := range []string{"demo.confirm", "web.confirm"} {
				if got := c.tool(name, map[string]any{"question": "go?"}); !strings.Contains(got, "accept") || !strings.Contains(got, "ok:true") {
					t.Errorf("%s: %q", name, got)
				}
			}
			if got := c.tool("everything.trigger-elicitation-request", nil); !strings.Contains(got, "Ada") {
				t.Errorf("everything elicitation: %q", got)
			}
			for _, name := range []string{"demo.ask_model", "web.ask_model"} {
				if got := c.tool(name, map[string]any{"question": "2+2?"}); got != "model said: canned-model-answer" {
					t.Errorf("%s: %q", name, got)
				}
			}
			if got := c.tool("everything.trigger-sampling-request", map[string]any{"prompt": "hi", "maxTokens": 5}); !strings.Contains(got, "canned-model-answer") {
				t.Errorf("everything sampling: %q", got)
			}
			if got := c.tool("demo.roots", nil); got != "roots: file:///e2e/root" {
				t.Errorf("demo.roots: %q", got)
			}

			// Progress and log messages of a call.
			meta := map[string]any{"progressToken": "p-" + version}
			if c.modern() {
				meta = modernMeta(c.caps)
				meta["progressToken"] = "p-" + version
				meta["io.modelcontextprotocol/logLevel"] = "info"
			} else {
				c.result("logging/setLevel", map[string]any{"level": "info"})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, _, err := c.request(ctx, "tools/call", map[string]any{"name": "demo.count", "arguments": map[string]any{"n": 3}, "_meta": meta}); err != nil {
				t.Fatal(err)
			}
			waitNote(t, c.rpc, "notifications/progress", `"p-`+version+`"`)
			waitNote(t, c.rpc, "notifications/message", "step 3")

			// Resources and prompts.
			read, _ := c.call("resources/read", map[string]any{"uri": "demo://greeting"})
			if !strings.Contains(string(read), "hello from the demo") {
				t.Errorf("resources/read: %s", read)
			}
			// A subscription to the resource: resources/subscribe, or the
			// listen stream; the stateless demo, which has no
			// resources/subscribe, is watched with a listen stream of the
			// proxy's either way, and its update reaches the client (tagged
			// with the subscription for a 2026-07-28 one).
			if c.modern() {
				c.modernHeld("subscriptions/listen", map[string]any{"notifications": map[string]any{"resourceSubscriptions": []string{"demo://greeting"}}}, c.caps)
				waitNote(t, c.rpc, "notifications/subscriptions/acknowledged", "demo://greeting")
			} else {
				c.result("resources/subscribe", map[string]any{"uri": "demo://greeting"})
			}
			if got := c.tool("demo.touch", nil); got != "touched" {
				t.Fatalf("demo.touch: %q", got)
			}
			waitNote(t, c.rpc, "notifications/resources/updated", "demo://greeting")
			if c.modern() {
				waitNote(t, c.rpc, "notifications/resources/updated", "io.modelcontextprotocol/subscriptionId")
			}
			prompts, _ := c.call("prompts/list", map[string]any{})
			if !strings.Contains(string(prompts), "greet") {
				t.Fatalf("prompts/list: %s", prompts)
			}
			got, _ := c.call("prompts/get", map[string]any{"name": promptNamed(t, prompts, "demo", "greet"), "arguments": map[string]any{"who": "Ada"}})
			if !strings.Contains(string(got), "Say hello to Ada") {
				t.Errorf("prompts/get: %s", got)
			}

			// A list change, told on the client's channel.
			listenTag := ""
			if c.modern() {
				c.modernHeld("subscriptions/listen", map[string]any{"notifications": map[string]any{"toolsListChanged": true}}, c.caps)
				if !c.waitNotification("notifications/subscriptions/acknowledged", 10*time.Second) {
					t.Fatal("no acknowledgement of subscriptions/listen")
				}
				listenTag = "io.modelcontextprotocol/subscriptionId"
			}
			before := len(c.notifications("notifications/tools/list_changed"))
			if got := c.tool("demo.grow", nil); got != "added grown_1" {
				t.Fatalf("demo.grow: %q", got)
			}
			// The proxy re-lists the server when told, then tells the
			// client; the client lists again.
			listed := false
			for deadline := time.Now().Add(10 * time.Second); !listed && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if len(c.notifications("notifications/tools/list_changed")) > before {
					names, _ := c.call("tools/list", map[string]any{})
					listed = strings.Contains(string(names), `"demo.grown_1"`)
				}
			}
			if !listed {
				t.Fatal("the demo's new tool was not announced and listed")
			}
			waitNote(t, c.rpc, "notifications/tools/list_changed", listenTag)

			// Cancellation reaches the server, and the call is not answered.
			ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			params := map[string]any{"name": "demo.sleep", "arguments": map[string]any{"ms": 30000}}
			if c.modern() {
				params["_meta"] = modernMeta(c.caps)
			}
			go func() { time.Sleep(300 * time.Millisecond); c.send(cancelNote(c.rpc)) }()
			if msg, _, err := c.request(ctx, "tools/call", params); err == nil {
				t.Fatalf("a cancelled call was answered: %s", msg)
			}
			waitStderr(t, c.rpc, "sleep cancelled", 10*time.Second)
		})
	}
}

// cancelNote cancels the client's latest request.
func cancelNote(c *rpc) string {
	c.mu.Lock()
	id := c.nextID
	c.mu.Unlock()
	return fmt.Sprintf(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":%d}}`, id)
}

// promptNamed finds the name the proxy gave server's prompt.
func promptNamed(t *testing.T, list json.RawMessage, server, prompt string) string {
	t.Helper()
	var l struct {
		Prompts []struct {
			Name string `json:"name"`
		} `json:"prompts"`
	}
	_ = json.Unmarshal(list, &l)
	for _, p := range l.Prompts {
		if strings.HasPrefix(p.Name, server) && strings.HasSuffix(p.Name, prompt) {
			return p.Name
		}
	}
	t.Fatalf("no prompt %s of %s in %s", prompt, server, list)
	return ""
}
