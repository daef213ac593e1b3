package httpfront

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/jsonrpc"
)

// 2026-07-28 requests carry everything they need, so they share one
// frontend. Clients pick their ids and progress tokens freely, so two of
// them may pick the same: the front gives each request an id (and token)
// of its own on the way in, and the client's back on the way out. A
// subscription is named by its request's id, so its notifications find
// their stream the same way.

const (
	subscriptionIDPath = `params._meta.io\.modelcontextprotocol/subscriptionId`
	progressTokenPath  = `params._meta.progressToken`
)

type stateless struct {
	c    *conn
	log  hclog.Logger
	done <-chan struct{} // the front is closing

	mu      sync.Mutex
	next    uint64
	pending map[string]*statelessCall // by our id, raw
	tokens  map[string]*statelessCall // by our token, raw
}

// statelessCall is one request in flight, under our id and token.
type statelessCall struct {
	w                  *waiter
	id, clientID       string
	token, clientToken string
}

func newStateless(ctx context.Context, core Core, log hclog.Logger) *stateless {
	m := &stateless{log: log, done: ctx.Done(), pending: map[string]*statelessCall{}, tokens: map[string]*statelessCall{}}
	m.c = startConn(ctx, core, m.route, log)
	return m
}

// route takes one message the frontend wrote and gives it back to its
// request, under the client's own id and token.
func (m *stateless) route(msg []byte) {
	if isResponse(msg) {
		m.mu.Lock()
		call := m.pending[gjson.GetBytes(msg, "id").Raw]
		if call != nil {
			m.forget(call)
		}
		m.mu.Unlock()
		if call != nil {
			out, err := sjson.SetRawBytes(msg, "id", []byte(call.clientID))
			if err == nil {
				call.w.deliver(out, true)
			}
		}
		return
	}
	r := gjson.GetManyBytes(msg, "method", subscriptionIDPath, progressTokenPath)
	m.mu.Lock()
	var call *statelessCall
	path, back := "", ""
	switch {
	case r[1].Exists():
		if call = m.pending[r[1].Raw]; call != nil {
			path, back = subscriptionIDPath, call.clientID
		}
	case r[2].Exists():
		if call = m.tokens[r[2].Raw]; call != nil {
			path, back = progressTokenPath, call.clientToken
		}
	}
	m.mu.Unlock()
	if call == nil {
		// Nothing of a request's: no stateless client asked for it.
		m.log.Trace("a message for no stateless request; dropped", "method", r[0].Str)
		return
	}
	out, err := sjson.SetRawBytes(msg, path, []byte(back))
	if err == nil {
		call.w.deliver(out, false)
	}
}

// forget removes a call; m.mu is held.
func (m *stateless) forget(call *statelessCall) {
	delete(m.pending, call.id)
	if call.token != "" {
		delete(m.tokens, call.token)
	}
}

// post handles one stateless message.
func (m *stateless) post(w http.ResponseWriter, r *http.Request, msg []byte, env jsonrpc.Envelope) {
	if !env.HasID() || env.Method == "" {
		// A notification, or an answer: nothing comes back.
		if err := m.c.send(msg); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if !gjson.GetBytes(msg, `params._meta.io\.modelcontextprotocol/protocolVersion`).Exists() {
		// Outside a session a request must say its revision: the
		// legacy ones have sessions, which begin with initialize.
		writeRPCError(w, http.StatusBadRequest, string(env.ID), mcp.INVALID_PARAMS,
			"a request outside a session needs _meta io.modelcontextprotocol/protocolVersion (2026-07-28 or later); a client of an older revision begins a session with initialize")
		return
	}
	if e := headerMismatch(r, msg); e != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(jsonrpc.AppendError(nil, env.ID, e))
		return
	}
	m.mu.Lock()
	m.next++
	n := strconv.FormatUint(m.next, 10)
	call := &statelessCall{w: newWaiter(), id: `"http-` + n + `"`, clientID: string(env.ID)}
	out, err := sjson.SetRawBytes(msg, "id", []byte(call.id))
	if tok := gjson.GetBytes(msg, progressTokenPath); err == nil && tok.Exists() {
		call.token, call.clientToken = `"http-progress-`+n+`"`, tok.Raw
		out, err = sjson.SetRawBytes(out, progressTokenPath, []byte(call.token))
		m.tokens[call.token] = call
	}
	if err != nil {
		m.forget(call)
		m.mu.Unlock()
		writeRPCError(w, http.StatusBadRequest, string(env.ID), -32600, "the request cannot be read: "+err.Error())
		return
	}
	m.pending[call.id] = call
	m.mu.Unlock()
	if err := m.c.send(out); err != nil {
		m.mu.Lock()
		m.forget(call)
		m.mu.Unlock()
		writeRPCError(w, http.StatusServiceUnavailable, string(env.ID), -32603, "the proxy is shutting down")
		return
	}
	call.w.answer(r.Context(), w, nil, statelessStatus, m.done, func() {
		// The client went away: for a stateless request that is its
		// cancellation (a subscription ends this way too).
		m.mu.Lock()
		_, open := m.pending[call.id]
		m.forget(call)
		m.mu.Unlock()
		if open {
			_ = m.c.send(jsonrpc.AppendNotification(nil, "notifications/cancelled", []byte(`{"requestId":`+call.id+`,"reason":"the client closed the HTTP request"}`)))
		}
	})
}

// statelessStatus is the HTTP status of a stateless answer given as
// JSON: 2026-07-28 makes a request that cannot be served as sent 400 (it
// is malformed, names a revision the proxy does not speak, or needs a
// capability the client did not declare) and an unknown method 404, with
// the JSON-RPC error in the body either way.
func statelessStatus(final []byte) int {
	code := gjson.GetBytes(final, "error.code")
	if !code.Exists() {
		return http.StatusOK
	}
	switch code.Int() {
	case -32700, -32600, -32602, mcp.HEADER_MISMATCH, mcp.MISSING_REQUIRED_CLIENT_CAPABILITY, mcp.UNSUPPORTED_PROTOCOL_VERSION:
		return http.StatusBadRequest
	case -32601:
		return http.StatusNotFound
	}
	return http.StatusOK
}

// headerMismatch is the error for a request whose MCP-Protocol-Version
// header names another revision than its _meta, or nil. Either may be
// absent; both, they must agree, since an intermediary routes by the
// header and the proxy serves by the body.
func headerMismatch(r *http.Request, msg []byte) []byte {
	header := r.Header.Get("MCP-Protocol-Version")
	body := gjson.GetBytes(msg, `params._meta.io\.modelcontextprotocol/protocolVersion`)
	if header == "" || !body.Exists() || body.Str == header {
		return nil
	}
	return jsonrpc.ErrorObject(mcp.HEADER_MISMATCH, fmt.Sprintf("the MCP-Protocol-Version header says %q and _meta says %q", header, body.Str))
}
