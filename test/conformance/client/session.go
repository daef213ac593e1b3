package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"
)

// session runs the proxy (serve) and drives it as a 2025-11-25 client:
// initialize, tools/list, then a call of each of the server's tools. With
// a user (the auth scenarios), a call the proxy answers with a login to
// do is followed as a person would: the URL it names is opened (or a login
// started with proxy.auth_start when it names none), and once
// proxy.auth_status says the login is done the call is made again, at
// most three times.
func session(cmd *exec.Cmd, user *user) error {
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	c := &client{in: stdin, waiting: map[string]chan json.RawMessage{}}
	go c.read(stdout)
	defer func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
	}()

	if _, err := c.call("initialize", map[string]any{
		"protocolVersion": "2025-11-25",
		"capabilities": map[string]any{
			"sampling": map[string]any{}, "elicitation": map[string]any{}, "roots": map[string]any{"listChanged": true},
		},
		"clientInfo": map[string]any{"name": "ica-conformance-client", "version": "1"},
	}); err != nil {
		return err
	}
	c.notify("notifications/initialized")
	raw, err := c.call("tools/list", map[string]any{})
	if err != nil {
		return err
	}
	if user != nil && !strings.Contains(string(raw), `"`+user.server+`.`) && user.login(c, "") {
		// None of the server's tools: it wants a login again (its token
		// was refused), as proxy.list_servers says; the user does it,
		// once.
		time.Sleep(500 * time.Millisecond) // the proxy lists the server again
		if raw, err = c.call("tools/list", map[string]any{}); err != nil {
			return err
		}
	}
	var list struct {
		Tools []struct {
			Name        string          `json:"name"`
			InputSchema json.RawMessage `json:"inputSchema"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return fmt.Errorf("tools/list: %w: %s", err, raw)
	}
	schemas := map[string]json.RawMessage{}
	for _, tool := range list.Tools {
		schemas[tool.Name] = tool.InputSchema
	}
	for _, tool := range list.Tools {
		if !strings.HasPrefix(tool.Name, "conf.") {
			continue
		}
		args := arguments(tool.Name, tool.InputSchema)
		if tool.Name == "conf.json_schema_echo" {
			// json-schema-2020-12-preservation: the schema the proxy
			// mirrored, sent back for the server to compare.
			args = map[string]any{"schema": schemas["conf.json_schema_2020_12_tool"]}
		}
		res, err := c.call("tools/call", map[string]any{"name": tool.Name, "arguments": args})
		for try := 0; err == nil && user != nil && try < 3 && user.follow(c, res); try++ {
			res, err = c.call("tools/call", map[string]any{"name": tool.Name, "arguments": args})
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", tool.Name, err)
			continue
		}
		fmt.Printf("%s: %s\n", tool.Name, res)
	}
	return nil
}

// user plays the person at the keyboard when the proxy asks for a login.
type user struct{ server string }

var grantURL = regexp.MustCompile(`open (https?://\S+) to grant it`)

// follow reads a tool result; when it is an error asking for a login, it
// does that login and reports true (call again).
func (u *user) follow(c *client, res json.RawMessage) bool {
	var r struct {
		IsError bool `json:"isError"`
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
	}
	_ = json.Unmarshal(res, &r)
	if !r.IsError || len(r.Content) == 0 {
		return false
	}
	text := r.Content[0].Text
	switch {
	case grantURL.MatchString(text):
		return u.login(c, grantURL.FindStringSubmatch(text)[1])
	case strings.Contains(text, "requires login"):
		return u.login(c, "")
	}
	return false
}

// login opens link, or the URL of a login started with proxy.auth_start
// when link is "", and waits for proxy.auth_status to say it is done.
func (u *user) login(c *client, link string) bool {
	if link == "" {
		started, err := c.call("tools/call", map[string]any{"name": "proxy.auth_start", "arguments": map[string]any{"server": u.server}})
		if err != nil {
			return false
		}
		var st struct {
			StructuredContent struct {
				AuthorizationURL string `json:"authorization_url"`
			} `json:"structuredContent"`
		}
		_ = json.Unmarshal(started, &st)
		if link = st.StructuredContent.AuthorizationURL; link == "" {
			return false
		}
	}
	fmt.Fprintf(os.Stderr, "user: logging in again: %s\n", link)
	go browse(link)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		st, err := c.call("tools/call", map[string]any{"name": "proxy.auth_status", "arguments": map[string]any{"server": u.server}})
		if err == nil && strings.Contains(string(st), `"state":"ok"`) {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}

// customHeaderArgs are the arguments of http-custom-headers' tool: every
// kind of value a header must carry, plain or Base64-encoded. (Its other
// tool is called with its required arguments only, so that the optional
// one it checks is omitted.)
var customHeaderArgs = map[string]any{
	"region": "us-west-2", "priority": 3, "verbose": true, "debug": false, "empty_val": "", "method_val": "GET",
	"float_val": 1.5, "non_ascii_val": "Région", "whitespace_val": " padded ", "leading_space_val": " lead",
	"trailing_space_val": "trail ", "internal_space_val": "a b c", "control_char_val": "a\u0001b", "crlf_val": "a\r\nb",
	"tab_val": "\tx", "query": "q",
}

// arguments makes a value for each required property of an object schema.
func arguments(tool string, schema json.RawMessage) map[string]any {
	if strings.HasSuffix(tool, ".test_custom_headers") {
		return customHeaderArgs
	}
	var s struct {
		Properties map[string]struct {
			Type any `json:"type"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	_ = json.Unmarshal(schema, &s)
	args := map[string]any{}
	for _, name := range s.Required {
		switch t, _ := s.Properties[name].Type.(string); t {
		case "string":
			args[name] = "conformance"
		case "integer":
			args[name] = 3
		case "number":
			args[name] = 2.5
		case "boolean":
			args[name] = true
		case "array":
			args[name] = []any{}
		case "object":
			args[name] = map[string]any{}
		}
	}
	return args
}

// client is a line-delimited JSON-RPC client of the proxy.
type client struct {
	mu      sync.Mutex
	in      io.Writer
	next    int
	waiting map[string]chan json.RawMessage
}

func (c *client) send(v any) {
	data, _ := json.Marshal(v)
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = c.in.Write(append(data, '\n'))
}

func (c *client) notify(method string) {
	c.send(map[string]any{"jsonrpc": "2.0", "method": method})
}

// call sends a request and waits (at most 30 s) for its result.
func (c *client) call(method string, params any) (json.RawMessage, error) {
	c.mu.Lock()
	c.next++
	id := fmt.Sprint(c.next)
	ch := make(chan json.RawMessage, 1)
	c.waiting[id] = ch
	c.mu.Unlock()
	c.send(map[string]any{"jsonrpc": "2.0", "id": c.next, "method": method, "params": params})
	select {
	case msg, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("%s: the proxy closed its output", method)
		}
		var r struct {
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(msg, &r); err != nil {
			return nil, err
		}
		if r.Error != nil {
			return nil, fmt.Errorf("%s: %s", method, r.Error)
		}
		return r.Result, nil
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("%s: no answer in 30 s", method)
	}
}

// read routes the proxy's messages: answers to their callers, its
// requests (relayed from the server) answered as a user who accepts.
func (c *client) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		switch {
		case m.Method != "" && m.ID != nil:
			var p struct {
				Params json.RawMessage `json:"params"`
			}
			_ = json.Unmarshal(sc.Bytes(), &p)
			c.send(map[string]any{"jsonrpc": "2.0", "id": m.ID, "result": answerFor(m.Method, p.Params)})
		case m.Method == "" && m.ID != nil:
			c.mu.Lock()
			ch := c.waiting[string(m.ID)]
			delete(c.waiting, string(m.ID))
			c.mu.Unlock()
			if ch != nil {
				ch <- append(json.RawMessage(nil), sc.Bytes()...)
			}
		}
	}
	c.mu.Lock()
	for id, ch := range c.waiting {
		close(ch)
		delete(c.waiting, id)
	}
	c.mu.Unlock()
}

// answerFor is what a user who says yes to everything answers; a form is
// accepted with its defaults.
func answerFor(method string, params json.RawMessage) any {
	switch method {
	case "elicitation/create":
		var form struct {
			RequestedSchema struct {
				Properties map[string]struct {
					Default any `json:"default"`
				} `json:"properties"`
			} `json:"requestedSchema"`
		}
		_ = json.Unmarshal(params, &form)
		content := map[string]any{"confirmed": true}
		for name, p := range form.RequestedSchema.Properties {
			if p.Default != nil {
				content[name] = p.Default
			}
		}
		return map[string]any{"action": "accept", "content": content}
	case "sampling/createMessage":
		return map[string]any{"role": "assistant", "content": map[string]any{"type": "text", "text": "ok"}, "model": "conformance", "stopReason": "endTurn"}
	case "roots/list":
		return map[string]any{"roots": []any{map[string]any{"uri": "file:///tmp", "name": "tmp"}}}
	}
	return map[string]any{}
}
