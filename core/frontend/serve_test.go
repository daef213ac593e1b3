package frontend_test

import (
	"context"
	"encoding/json"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/coretest"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/scripted"
)

// TestServeEnds: Serve returns when its context ends, with the client's
// input still open; and when the input ends cleanly it returns nil, even
// after waiting out (and cancelling) a call that does not end.
func TestServeEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cl := coretest.New(t, coretest.Options{Scripts: map[string]scripted.Script{"up": echoScript()}}).ServeContext(t, ctx)
		cl.Initialize(`{}`)
		cancel()
		if ended, err := cl.Ended(time.Minute); !ended || err == nil {
			t.Fatalf("after the context ended: ended %v, err %v", ended, err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		sc := echoScript()
		sc.Tools = append(sc.Tools, json.RawMessage(`{"name":"stuck","inputSchema":{"type":"object"}}`))
		sc.Calls["stuck"] = scripted.Call{} // never answers
		cl := coretest.New(t, coretest.Options{Scripts: map[string]scripted.Script{"up": sc}}).Serve(t)
		cl.Initialize(`{}`)
		cl.ToolNames()
		cl.Send(`{"jsonrpc":"2.0","id":"s","method":"tools/call","params":{"name":"up.stuck","arguments":{}}}`)
		synctest.Wait()
		if err := cl.Close(); err != nil {
			t.Fatalf("a clean end of input: %v", err)
		}
	})
}
