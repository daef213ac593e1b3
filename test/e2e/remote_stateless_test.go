package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// A server that speaks only the stateless 2026-07-28 revision (mcp-go's,
// restricted to it): no session, the version in every request's _meta and
// header, and the Mcp-Method and Mcp-Name headers it requires.
func TestRemoteStatelessServer(t *testing.T) {
	s := server.NewMCPServer("stateless", "1", server.WithToolCapabilities(true))
	s.AddTool(mcp.NewTool("hello", mcp.WithDescription("says hello")), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("hello, stateless"), nil
	})
	h := server.NewStreamableHTTPServer(s, server.WithStreamableHTTPProtocolVersions(mcp.ProtocolVersion20260728))
	var mu sync.Mutex
	var seen []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	e := newEnv(t)
	e.writeProject(t, map[string]any{"modern": map[string]any{"type": "http", "url": srv.URL + "/mcp"}})
	c := startProxy(t, e)
	if got := decodeResult(t, c.callTool("modern.hello", map[string]any{})).text(); got != "hello, stateless" {
		t.Fatalf("modern.hello: %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	var calls int
	for _, hd := range seen {
		if hd.Get("Mcp-Session-Id") != "" {
			t.Errorf("a session id was sent to a stateless server")
		}
		if hd.Get("Mcp-Method") == "tools/call" {
			calls++
			if hd.Get("Mcp-Name") != "hello" || hd.Get("MCP-Protocol-Version") != mcp.ProtocolVersion20260728 {
				t.Errorf("tools/call headers: %v", hd)
			}
		}
	}
	if calls != 1 {
		t.Fatalf("the server saw %d tools/call requests with Mcp-Method, want 1", calls)
	}
}
