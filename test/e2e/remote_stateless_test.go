package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// A server spoken to in the stateless 2026-07-28 revision, as its
// stateless client speaks (mcp-go's, restricted to it, though it still
// answers initialize): no session, the version in every request's _meta
// and header, and the Mcp-Method and Mcp-Name headers it requires.
func TestRemoteStatelessServer(t *testing.T) {
	t.Parallel()
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
	c := startRPC(t, e.command())
	if got := string(c.modernResult("tools/call", map[string]any{"name": "modern.hello", "arguments": map[string]any{}}, map[string]any{})); !strings.Contains(got, "hello, stateless") {
		t.Fatalf("modern.hello: %s", got)
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

// A 2026-07-28 server's ttlMs bounds how long the proxy (with a stateless
// client, so spoken to statelessly) reuses its tool list: a list fresh for a minute is listed once however often the client
// asks; one fresh for no time at all is listed again as the client asks,
// at most once a second (in the background: the client is answered at
// once).
func TestUpstreamTTLBoundsToolCache(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ttlMs int64
		again bool
	}{{60000, false}, {0, true}} {
		s := server.NewMCPServer("ttl", "1", server.WithToolCapabilities(false), server.WithCacheHints(tc.ttlMs, mcp.CacheScopePrivate))
		s.AddTool(mcp.NewTool("hello"), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText("hello"), nil
		})
		h := server.NewStreamableHTTPServer(s, server.WithStreamableHTTPProtocolVersions(mcp.ProtocolVersion20260728))
		var mu sync.Mutex
		lists := 0
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Mcp-Method") == "tools/list" {
				mu.Lock()
				lists++
				mu.Unlock()
			}
			h.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		e := newEnv(t)
		e.writeProject(t, map[string]any{"ttl": map[string]any{"type": "http", "url": srv.URL + "/mcp"}})
		c := startRPC(t, e.command())
		for range 3 {
			c.modernResult("tools/list", nil, map[string]any{})
			time.Sleep(1100 * time.Millisecond)
		}
		mu.Lock()
		n := lists
		mu.Unlock()
		if tc.again && n < 3 || !tc.again && n != 1 {
			t.Errorf("ttlMs %d: the server was listed %d times for 3 client lists", tc.ttlMs, n)
		}
	}
}
