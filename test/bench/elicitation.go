package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// answerRequest answers a request the proxy sends the bench's client (an
// upstream's elicitation, relayed) as a user who accepts at once.
func (c *client) answerRequest(line []byte) {
	var req struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(line, &req) != nil || req.ID == nil {
		return
	}
	c.write([]byte(`{"jsonrpc":"2.0","id":` + string(req.ID) + `,"result":` + elicitAnswer + "}\n"))
}

const elicitAnswer = `{"action":"accept","content":{"name":"bench"}}`

// runElicitation times a tools/call that asks the user (server-everything's
// trigger-elicitation-request, 2025-11-25) from its start to its result:
// for a 2025-11-25 client, which answers the relayed elicitation/create
// request; and for a 2026-07-28 client, which gets input_required and
// retries with the answer (the bridge). It prints the medians.
func runElicitation(bin, parent, peers string, n int) error {
	everything, _ := filepath.Abs(filepath.Join(peers, "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js"))
	if _, err := os.Stat(everything); err != nil {
		return nil // the peers are not installed: nothing to measure against
	}
	s, err := newScratch(bin, parent, map[string]any{"everything": map[string]any{"command": "node", "args": []string{everything, "stdio"}}})
	if err != nil {
		return err
	}
	var legacy, bridged []time.Duration
	c, err := s.proxy(bin)
	if err != nil {
		return err
	}
	for i := range n + 1 {
		t0 := time.Now()
		res, err := c.call("tools/call", `{"name":"everything.trigger-elicitation-request","arguments":{}}`)
		if err != nil || !bytes.Contains(res, []byte("bench")) {
			c.close()
			return fmt.Errorf("legacy elicitation: %v %.300s", err, res)
		}
		if i > 0 {
			legacy = append(legacy, time.Since(t0))
		}
	}
	c.close()

	c, err = spawn(exec.Command(filepath.Join(bin, "ica-mcp-proxy")), s.env, s.project)
	if err != nil {
		return err
	}
	defer c.close()
	call := `{"name":"everything.trigger-elicitation-request","arguments":{},"_meta":` + modernMeta + `}`
	for i := range n + 1 {
		t0 := time.Now()
		first, err := c.call("tools/call", call)
		var ir struct {
			Result struct {
				InputRequests map[string]json.RawMessage `json:"inputRequests"`
				RequestState  string                     `json:"requestState"`
			} `json:"result"`
		}
		if err != nil || json.Unmarshal(first, &ir) != nil || len(ir.Result.InputRequests) != 1 {
			return fmt.Errorf("bridged elicitation: %v %.300s", err, first)
		}
		var key string
		for k := range ir.Result.InputRequests {
			key = k
		}
		state, _ := json.Marshal(ir.Result.RequestState)
		retry := strings.TrimSuffix(call, "}") + `,"inputResponses":{"` + key + `":` + elicitAnswer + `},"requestState":` + string(state) + `}`
		res, err := c.call("tools/call", retry)
		if err != nil || !bytes.Contains(res, []byte("bench")) {
			return fmt.Errorf("bridged elicitation, retry: %v %.300s", err, res)
		}
		if i > 0 {
			bridged = append(bridged, time.Since(t0))
		}
	}
	l, b := median(legacy), median(bridged)
	fmt.Println()
	fmt.Println("| elicitation round trip through the proxy (server-everything, 2025-11-25), median | value | target |")
	fmt.Println("|---|---|---|")
	fmt.Printf("| 2025-11-25 client: tools/call, elicitation/create relayed and answered, result | %s | |\n", ms(l))
	fmt.Printf("| 2026-07-28 client: tools/call → input_required, retry with inputResponses → result | %s | ≤ +1 ms (%+.3f ms) |\n", ms(b), float64((b-l).Microseconds())/1000)
	return nil
}
