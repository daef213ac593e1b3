package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// TestTasksPassThrough: server-everything runs simulate-research-query as
// a task (2025-11-25). A client that declares tasks calls it as one
// through the proxy, which declares tasks because the server does, and
// routes the task's requests (get, result, list) to the server that runs
// it; a task the proxy never saw is refused.
func TestTasksPassThrough(t *testing.T) {
	t.Parallel()
	needPeers(t)
	e := newEnv(t)
	e.writeProject(t, map[string]any{"everything": everythingServer()})
	// A first run lets the proxy learn what the server offers, so the
	// second declares it at once.
	first := startProxy(t, e)
	first.toolNames()
	_ = first.stdin.Close()
	<-first.done

	c := startRPC(t, e.command())
	init := c.result("initialize", map[string]any{
		"protocolVersion": "2025-11-25",
		"capabilities":    map[string]any{"tasks": map[string]any{"list": map[string]any{}, "cancel": map[string]any{}}},
		"clientInfo":      map[string]any{"name": "e2e", "version": "1"},
	})
	c.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	if !gjson.GetBytes(init, "capabilities.tasks.requests.tools.call").Exists() {
		t.Fatalf("the proxy does not declare tasks though its upstream does: %s", init)
	}
	created := c.result("tools/call", map[string]any{"name": "everything.simulate-research-query", "arguments": map[string]any{"topic": "gophers"}, "task": map[string]any{"ttl": 60000}})
	id := gjson.GetBytes(created, "task.taskId").Str
	if id == "" {
		t.Fatalf("no task in the answer: %s", created)
	}
	if got := c.result("tasks/get", map[string]any{"taskId": id}); gjson.GetBytes(got, "taskId").Str != id {
		t.Fatalf("tasks/get: %s", got)
	}
	if got := c.result("tasks/list", map[string]any{}); !strings.Contains(string(got), id) {
		t.Fatalf("tasks/list lacks the task: %s", got)
	}
	// tasks/result waits for the task to finish (four stages of a second).
	result := c.result("tasks/result", map[string]any{"taskId": id})
	if !strings.Contains(string(result), "gophers") {
		t.Fatalf("tasks/result: %s", result)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	unknown, _, err := c.request(ctx, "tasks/get", map[string]any{"taskId": "no-such-task"})
	var r struct {
		Error *struct {
			Code int `json:"code"`
		} `json:"error"`
	}
	if err != nil || json.Unmarshal(unknown, &r) != nil || r.Error == nil || r.Error.Code != -32602 {
		t.Fatalf("an unknown task: %s %v", unknown, err)
	}
}
