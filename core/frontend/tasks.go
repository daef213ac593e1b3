package frontend

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
)

// Tool calls run as tasks pass through the proxy when the client and an
// upstream both declare them, in either form: 2025-11-25's (the client
// adds params.task, the server answers with the task, and is asked for its
// status and result later) or 2026-07-28's tasks extension (the server
// decides, answers resultType "task", and tasks/get inlines the result).
// The proxy declares tasks when an upstream does, tells the upstreams the
// client's tasks capability, and routes each task's requests to the
// server that created it, learning the task's id from the answer to the
// call. tasks/list lists every 2025-11-25 server's tasks.

// noteCall learns the task a tools/call created, if it did: a 2025-11-25
// call asked for one (params.task) and gets it nested (result.task); a
// 2026-07-28 server decides, and answers with a flat task (resultType
// "task").
func (t *taskOwners) noteCall(tg target, r upstream.Reply) {
	switch {
	case bytes.Contains(tg.env.Params, []byte(`"task"`)) && gjson.GetBytes(tg.env.Params, "task").Exists():
		t.learn(gjson.GetBytes(r.Result, "task.taskId").Str, tg.server)
	default:
		if id := upstream.FlatTask(r); id != "" {
			t.learn(id, tg.server)
		}
	}
}

// taskOwners maps task ids to the servers that run them.
type taskOwners struct {
	mu   sync.Mutex
	byID map[string]string
}

func (t *taskOwners) learn(id, server string) {
	if id == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byID == nil {
		t.byID = map[string]string{}
	}
	t.byID[id] = server
}

func (t *taskOwners) owner(id string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byID[id]
}

// taskRequest sends tasks/get, tasks/result or tasks/cancel to the server
// that runs the task.
func (s *Server) taskRequest(ctx context.Context, env envelope, c *call) {
	id := gjson.GetBytes(env.Params, "taskId").Str
	server := s.tasks.owner(id)
	if server == "" {
		s.writeError(env.ID, mcp.INVALID_PARAMS, "unknown task "+id+": it was not created through this proxy")
		return
	}
	done := make(chan struct{})
	t := target{env: env, c: c, server: server, ended: func() { close(done) }}
	c.setCancel(s.p.StartRequest(server, upstream.Call{Method: env.Method, Params: env.Params, Done: func(r upstream.Reply, err error) { s.writeRouted(t, r, err) }}))
	<-done
}

// tasksList lists the tasks of every server that runs tasks, in one page.
func (s *Server) tasksList(ctx context.Context, env envelope) {
	buf := []byte(`{"tasks":[`)
	first := true
	for _, server := range s.p.TaskServers() {
		r, err := s.p.Request(ctx, server, string(mcp.MethodTasksList), json.RawMessage(`{}`))
		if err != nil || r.Error != nil {
			s.log.Debug("a server did not list its tasks", "server", server, "error", err, "answer", string(r.Error))
			continue
		}
		gjson.GetBytes(r.Result, "tasks").ForEach(func(_, task gjson.Result) bool {
			s.tasks.learn(task.Get("taskId").Str, server)
			if !first {
				buf = append(buf, ',')
			}
			first = false
			buf = append(buf, task.Raw...)
			return true
		})
	}
	s.answerBuilt(env, append(buf, "]}"...))
}
