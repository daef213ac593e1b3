// Command hostile is an MCP upstream for the reliability tests that
// misbehaves on purpose: it prints a banner, NUL bytes and invalid JSON on
// stdout, answers ids nobody asked, uses wrong-case keys, sends a 16 MiB
// line that is not JSON, and can answer with a result of any size or
// nesting ("deep": 12 MB of "["). Between
// all that it answers correctly, so that the tests can check the proxy
// kept serving. Its "delayed" tool answers out of order.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

func main() {
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	var mu sync.Mutex
	write := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		_, _ = out.WriteString(s)
		_ = out.WriteByte('\n')
		_ = out.Flush()
	}
	write("hostile upstream v1 starting (this banner is not JSON-RPC)")
	write("\x00\x00\x00")

	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	for {
		line, err := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			handle(line, write)
		}
		if err != nil {
			return
		}
	}
}

type request struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params struct {
		ProtocolVersion string         `json:"protocolVersion"`
		Name            string         `json:"name"`
		Arguments       map[string]any `json:"arguments"`
	} `json:"params"`
}

func handle(line []byte, write func(string)) {
	var req request
	if err := json.Unmarshal(line, &req); err != nil || len(req.ID) == 0 {
		return // notifications
	}
	answer := func(result string) {
		write(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":%s}`, req.ID, result))
	}
	switch req.Method {
	case "initialize":
		write(`{"jsonrpc":"2.0","id":424242,"result":{}}`) // an id never sent
		answer(fmt.Sprintf(`{"protocolVersion":%q,"capabilities":{"tools":{}},"serverInfo":{"name":"hostile","version":"1"}}`, req.Params.ProtocolVersion))
	case "tools/list":
		answer(`{"tools":[` +
			`{"name":"garbage","description":"answers after a burst of garbage","inputSchema":{"type":"object"}},` +
			`{"name":"big","description":"answers with mib MiB of text","inputSchema":{"type":"object","properties":{"mib":{"type":"number"}}}},` +
			`{"name":"deep","description":"answers with 12 MB of [, which overflowed the stack of a recursive JSON check","inputSchema":{"type":"object"}},` +
			`{"name":"delayed","description":"answers tag after ms, while answering other calls","inputSchema":{"type":"object"}},` +
			`{"name":"choose","description":"echoes its arguments; takes an id or a url","inputSchema":{"$defs":{"Id":{"type":"string","pattern":"^[a-z]+$"}},"oneOf":[{"type":"object","properties":{"id":{"$ref":"#/$defs/Id"}},"required":["id"],"additionalProperties":false},{"type":"object","properties":{"url":{"type":"string"}},"required":["url"],"additionalProperties":false}]}}]}`)
	case "tools/call":
		switch req.Params.Name {
		case "garbage":
			write("{not json")
			write("\xff\xfe\xfd")
			write("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"\xff\xfe\"}")
			write(`{"jsonrpc":"2.0","ID":` + string(req.ID) + `,"Result":{"content":[{"type":"text","text":"wrong case"}]}}`)
			write(`{"jsonrpc":"2.0","Method":"notifications/message","params":{"level":"info","data":"wrong case"}}`)
			write(`{"jsonrpc":"2.0","id":"never-sent","result":{}}`)
			write(`[[[[[[[[[[]]]]]]]]]]`)
			write(strings.Repeat("A", 16<<20))
			write(`{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"still talking"}}`)
			answer(`{"content":[{"type":"text","text":"survived"}]}`)
		case "delayed":
			ms, _ := req.Params.Arguments["ms"].(float64)
			tag, _ := req.Params.Arguments["tag"].(string)
			go func() {
				time.Sleep(time.Duration(ms) * time.Millisecond)
				text, _ := json.Marshal(tag)
				answer(`{"content":[{"type":"text","text":` + string(text) + `}]}`)
			}()
		case "choose":
			args, _ := json.Marshal(req.Params.Arguments)
			text, _ := json.Marshal(string(args))
			answer(`{"content":[{"type":"text","text":` + string(text) + `}]}`)
		case "deep":
			answer(strings.Repeat("[", 12<<20))
		case "big":
			mib, _ := req.Params.Arguments["mib"].(float64)
			text := strings.Repeat("x", int(mib*(1<<20)))
			answer(`{"content":[{"type":"text","text":"` + text + `"}]}`)
		default:
			write(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"error":{"code":-32602,"message":"unknown tool"}}`, req.ID))
		}
	case "ping":
		answer(`{}`)
	default:
		if os.Getenv("HOSTILE_IGNORE_UNKNOWN") != "" {
			return // as some servers of the initialize revisions do
		}
		write(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"error":{"code":-32601,"message":"method not found"}}`, req.ID))
	}
}
