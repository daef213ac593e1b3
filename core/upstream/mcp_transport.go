package upstream

import (
	"context"
	"encoding/json"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// mcpTransport presents a Conn to mcp-go's client. mcp-go numbers its own
// requests; the Conn renumbers them on the wire, so they never collide with
// the proxy's, and gives the answer back under mcp-go's id.
type mcpTransport struct{ c *Conn }

var _ transport.BidirectionalInterface = mcpTransport{}

func (t mcpTransport) Start(context.Context) error { return nil }

func (t mcpTransport) SendRequest(ctx context.Context, req transport.JSONRPCRequest) (*transport.JSONRPCResponse, error) {
	var params json.RawMessage
	if req.Params != nil {
		p, err := json.Marshal(req.Params)
		if err != nil {
			return nil, err
		}
		params = p
	}
	r, err := t.c.request(ctx, req.Method, params, false)
	if err != nil {
		return nil, err
	}
	resp := &transport.JSONRPCResponse{JSONRPC: mcp.JSONRPC_VERSION, ID: req.ID, Result: r.Result}
	if r.Error != nil {
		var d mcp.JSONRPCErrorDetails
		if err := json.Unmarshal(r.Error, &d); err != nil {
			d = mcp.JSONRPCErrorDetails{Code: mcp.INTERNAL_ERROR, Message: string(r.Error)}
		}
		resp.Error = &d
		resp.Result = nil
	}
	return resp, nil
}

// SendNotification forwards mcp-go's notifications, except cancellations:
// mcp-go would name its own request id, which the upstream never saw; the
// Conn cancels under the right id itself.
func (t mcpTransport) SendNotification(_ context.Context, n mcp.JSONRPCNotification) error {
	if n.Method == string(mcp.MethodNotificationCancelled) {
		return nil
	}
	params, err := json.Marshal(n.Params)
	if err != nil {
		return err
	}
	if string(params) == "{}" || string(params) == "null" {
		params = nil
	}
	return t.c.Notify(n.Method, params)
}

// SetNotificationHandler is a no-op: notifications reach the proxy raw,
// through the Conn's Notify hook.
func (t mcpTransport) SetNotificationHandler(func(mcp.JSONRPCNotification)) {}

func (t mcpTransport) SetRequestHandler(h transport.RequestHandler) {
	t.c.handlerMu.Lock()
	t.c.reqHandler = h
	t.c.handlerMu.Unlock()
}

// Close is a no-op: the Upstream that owns the Conn closes it.
func (t mcpTransport) Close() error { return nil }

func (t mcpTransport) GetSessionId() string { return "" }
