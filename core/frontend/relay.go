package frontend

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/jsonrpc"
)

// The upstreams' own requests (sampling, elicitation, roots/list) are
// relayed to the client under ids of the proxy's own, so that two
// upstreams using the same id never collide, and the client's answers go
// back to the upstream that asked under the id it used.

// askPrefix starts the ids of the proxy's requests to its client; the
// client's own ids are never echoed back to it as requests, so they
// cannot collide with these.
const askPrefix = "ica-"

// asked is a request relayed to the client, waiting for its answer.
type asked struct {
	server     string
	upstreamID string // raw
	reply      func(result, rpcErr json.RawMessage)
}

type askTable struct {
	mu   sync.Mutex
	next int64
	byID map[string]*asked // by the raw id sent to the client
	// byUpstream finds a request by who asked: server + "\x00" + raw id.
	byUpstream map[string]string
	// bridged numbers the requests made for a 2026-07-28 upstream's
	// input_required (their ids as the upstream's).
	bridged int64
}

func upstreamKey(server, id string) string { return server + "\x00" + id }

// relayRequest takes an upstream's request for the client: a 2026-07-28
// client gets it inside the result of the call it belongs to (see
// exchange); any other client, as a request.
func (s *Server) relayRequest(server, method string, id, params json.RawMessage, reply func(result, rpcErr json.RawMessage)) {
	if x := s.xs.oldest(server); x != nil {
		x.ask(method, params, reply)
		return
	}
	if s.modernSeen.Load() && !s.handshaken.Load() {
		reply(nil, rpcError(mcp.METHOD_NOT_FOUND, "the proxy's client speaks protocol version 2026-07-28, which takes no requests outside a call; "+method+" can only be answered during a call to this server"))
		return
	}
	s.relay(server, method, id, params, reply)
}

// relay sends an upstream's request to the client as a request.
func (s *Server) relay(server, method string, id, params json.RawMessage, reply func(result, rpcErr json.RawMessage)) {
	a := &asked{server: server, upstreamID: string(id), reply: reply}
	s.asks.mu.Lock()
	if s.asks.byID == nil {
		s.asks.byID = map[string]*asked{}
		s.asks.byUpstream = map[string]string{}
	}
	s.asks.next++
	ourID := strconv.Quote(askPrefix + strconv.FormatInt(s.asks.next, 10))
	s.asks.byID[ourID] = a
	s.asks.byUpstream[upstreamKey(server, a.upstreamID)] = ourID
	s.asks.mu.Unlock()

	s.write(jsonrpc.AppendRequest(make([]byte, 0, 64+len(method)+len(params)), []byte(ourID), method, params))
}

// take removes a relayed request by the id the client saw.
func (s *Server) take(ourID string) *asked {
	s.asks.mu.Lock()
	defer s.asks.mu.Unlock()
	a := s.asks.byID[ourID]
	if a != nil {
		delete(s.asks.byID, ourID)
		delete(s.asks.byUpstream, upstreamKey(a.server, a.upstreamID))
	}
	return a
}

// clientAnswered passes the client's answer to the upstream that asked.
func (s *Server) clientAnswered(msg []byte) {
	r := gjson.GetManyBytes(msg, "id", "result", "error")
	a := s.take(r[0].Raw)
	if a == nil {
		s.log.Debug("the client answered a request the proxy did not send, or no longer waits for", "id", r[0].Raw)
		return
	}
	var result, rpcErr json.RawMessage
	if r[2].Exists() {
		rpcErr = json.RawMessage(r[2].Raw)
	} else if r[1].Exists() {
		result = json.RawMessage(r[1].Raw)
	} else {
		rpcErr = json.RawMessage(`{"code":-32603,"message":"the client answered with neither result nor error"}`)
	}
	a.reply(result, rpcErr)
}

// upstreamCancelled tells the client an upstream gave up a request it had
// relayed.
func (s *Server) upstreamCancelled(server string, params json.RawMessage) {
	id := gjson.GetBytes(params, "requestId")
	s.asks.mu.Lock()
	ourID, ok := s.asks.byUpstream[upstreamKey(server, id.Raw)]
	s.asks.mu.Unlock()
	if !ok {
		return
	}
	s.take(ourID)
	reason := gjson.GetBytes(params, "reason")
	p := []byte(`{"requestId":` + ourID)
	if reason.Type == gjson.String {
		p = append(p, `,"reason":`...)
		p = append(p, reason.Raw...)
	}
	s.write(jsonrpc.AppendNotification(nil, string(mcp.MethodNotificationCancelled), append(p, '}')))
}

// failAsks answers every relayed request with an error: the client is
// gone.
func (s *Server) failAsks() {
	s.asks.mu.Lock()
	all := s.asks.byID
	s.asks.byID, s.asks.byUpstream = map[string]*asked{}, map[string]string{}
	s.asks.mu.Unlock()
	e := rpcError(mcp.INTERNAL_ERROR, "the client disconnected")
	for _, a := range all {
		a.reply(nil, e)
	}
}

// announceStart tells a client whose request waits for a server to start
// (one started lazily, or stopped when idle) which server that is, as
// progress of its request when it gave a progress token: the wait, up to
// the request timeout, is then not a silent one. The server's own
// progress, if any, follows.
func (s *Server) announceStart(server string, params json.RawMessage) {
	if s.p.Live(server) {
		return
	}
	tok := gjson.GetBytes(params, "_meta.progressToken")
	if tok.Type != gjson.String && tok.Type != gjson.Number {
		return
	}
	msg, _ := json.Marshal(fmt.Sprintf("starting server %q", server))
	p := append(append([]byte(`{"progressToken":`), tok.Raw...), `,"progress":0,"message":`...)
	p = append(append(p, msg...), '}')
	s.write(jsonrpc.AppendNotification(nil, string(mcp.MethodNotificationProgress), p))
}

// upstreamNotification passes on what the client can use: progress of its
// own requests, log messages (named after their server), and changes to
// resources and prompts; an upstream giving up a relayed request is
// passed on as the client's cancellation.
func (s *Server) upstreamNotification(server, method string, params, msg json.RawMessage) {
	switch method {
	case string(mcp.MethodNotificationProgress):
		s.write(msg)
	case string(mcp.MethodNotificationCancelled):
		s.upstreamCancelled(server, params)
	case "notifications/message":
		// A session (initialize) gets every log message, as the level it
		// set says; a stateless client, those its requests asked for.
		if s.handshaken.Load() || s.logs.wanted(server, gjson.GetBytes(params, "level").Str) {
			s.write(withLogger(msg, params, server))
		}
	case string(mcp.MethodNotificationResourceUpdated):
		if s.offered().Resources {
			s.changed(method, params, msg)
		}
	case string(mcp.MethodNotificationTasksStatus):
		if s.handshaken.Load() && s.tasks.owner(gjson.GetBytes(params, "taskId").Str) == server {
			s.write(msg)
		}
	}
}

// listChanged passes on that a server's resources or prompts changed,
// when the proxy declared them (list changes of tools are the proxy's
// own: see toolsChanged).
func (s *Server) listChanged(_ string, kind upstream.Kind) {
	o := s.offered()
	if kind == upstream.KindPrompts && o.Prompts || kind == upstream.KindResources && o.Resources {
		method := kind.ChangedMethod()
		s.changed(method, nil, jsonrpc.AppendNotification(nil, method, nil))
	}
}

// changed passes a change on: as it is to a session, and tagged to each
// subscription that asked for it.
func (s *Server) changed(method string, params, msg json.RawMessage) {
	if s.handshaken.Load() {
		s.write(msg)
	}
	s.subs.notify(s, method, params)
}

// withLogger names the server as a log message's logger when the upstream
// named none, so the client can tell whose message it is.
func withLogger(msg, params json.RawMessage, server string) []byte {
	if gjson.GetBytes(params, "logger").Exists() || !gjson.ParseBytes(params).IsObject() {
		return msg
	}
	p := gjson.GetBytes(msg, "params")
	name, _ := json.Marshal(server)
	out := make([]byte, 0, len(msg)+len(name)+12)
	out = append(out, msg[:p.Index+1]...) // up to and including '{'
	out = append(out, `"logger":`...)
	out = append(out, name...)
	if len(gjson.ParseBytes(params).Map()) > 0 {
		out = append(out, ',')
	}
	return append(out, msg[p.Index+1:]...)
}
