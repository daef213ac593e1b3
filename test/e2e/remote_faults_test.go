package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// faultServer is a small streamable HTTP MCP server for the cases the
// reference server cannot be made to produce: sessions that expire, a
// stream that breaks mid-answer, a tool that never answers. It runs in
// the test process on loopback; the proxy and its plugin are the real
// binaries.
type faultServer struct {
	srv *httptest.Server

	mu        sync.Mutex
	sessions  map[string]bool
	initCount int
	posts     []string // bodies of every POST, in order
	headers   []http.Header
	deletes   int
	gets      []string // Last-Event-ID of every GET
	resume    map[string]string
	aborted   chan string // tools/call names whose POST the client abandoned
	// push, when set, feeds the standalone GET stream: the server's own
	// requests and notifications.
	push chan string
}

func newFaultServer(t *testing.T) *faultServer {
	f := &faultServer{sessions: map[string]bool{}, resume: map[string]string{}, aborted: make(chan string, 8)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *faultServer) url() string { return f.srv.URL + "/mcp" }

// expireSessions forgets every session, as a restarted server would.
func (f *faultServer) expireSessions() {
	f.mu.Lock()
	f.sessions = map[string]bool{}
	f.mu.Unlock()
}

// inits is how many sessions were opened.
func (f *faultServer) inits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.initCount
}

func (f *faultServer) count(substr string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, p := range f.posts {
		if strings.Contains(p, substr) {
			n++
		}
	}
	return n
}

func (f *faultServer) serve(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		id := r.Header.Get("Last-Event-ID")
		f.mu.Lock()
		f.gets = append(f.gets, id)
		data, ok := f.resume[id]
		f.mu.Unlock()
		if id == "" && f.push != nil {
			w.Header().Set("Content-Type", "text/event-stream")
			w.(http.Flusher).Flush()
			for {
				select {
				case m := <-f.push:
					_, _ = fmt.Fprintf(w, "data: %s\n\n", m)
					w.(http.Flusher).Flush()
				case <-r.Context().Done():
					return
				}
			}
		}
		if !ok {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = fmt.Fprintf(w, "id: %s-2\ndata: %s\n\n", id, data)
		return
	case http.MethodDelete:
		f.mu.Lock()
		delete(f.sessions, r.Header.Get("Mcp-Session-Id"))
		f.deletes++
		f.mu.Unlock()
		return
	}
	body, _ := io.ReadAll(r.Body)
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params struct {
			Name string `json:"name"`
		} `json:"params"`
	}
	_ = json.Unmarshal(body, &msg)
	f.mu.Lock()
	f.posts = append(f.posts, string(body))
	f.headers = append(f.headers, r.Header.Clone())
	if msg.Method == "initialize" {
		f.initCount++
		sid := fmt.Sprintf("session-%d", f.initCount)
		f.sessions[sid] = true
		f.mu.Unlock()
		w.Header().Set("Mcp-Session-Id", sid)
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"faults","version":"1"}}}`, msg.ID)
		return
	}
	known := f.sessions[r.Header.Get("Mcp-Session-Id")]
	f.mu.Unlock()
	if !known {
		http.Error(w, "unknown session", http.StatusNotFound)
		return
	}
	if msg.ID == nil {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	answer := func(result string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":%s}`, msg.ID, result)
	}
	text := func(s string) string { return answer(`{"content":[{"type":"text","text":"` + s + `"}]}`) }
	switch {
	case msg.Method == "tools/list":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer(`{"tools":[`+
			`{"name":"echo","inputSchema":{"type":"object"}},`+
			`{"name":"slow","inputSchema":{"type":"object"}},`+
			`{"name":"drop","inputSchema":{"type":"object"}}]}`))
	case msg.Method == "tools/call" && msg.Params.Name == "echo":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, text("echoed"))
	case msg.Method == "tools/call" && msg.Params.Name == "slow":
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			f.aborted <- "slow"
		case <-time.After(30 * time.Second):
		}
	case msg.Method == "tools/call" && msg.Params.Name == "drop":
		// One event, then the connection breaks; the answer waits for the
		// client to resume after that event.
		evID := fmt.Sprintf("drop-%s", msg.ID)
		f.mu.Lock()
		f.resume[evID] = text("resumed after the drop")
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = fmt.Fprintf(w, "retry: 20\nid: %s\ndata:\n\n", evID)
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32601,"message":"no"}}`, msg.ID)
	}
}

func toolError(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	r := decodeResult(t, raw)
	if !r.IsError {
		t.Fatalf("want an error result, got %s", raw)
	}
	return r.text()
}

// A 404 on a live session: the call that met it fails (it is not
// replayed), and the next call starts a new session.
func TestRemoteSessionExpiry(t *testing.T) {
	t.Parallel()
	repeated(t, testRemoteSessionExpiry, onStreams)
}

func testRemoteSessionExpiry(t *testing.T) {
	f := newFaultServer(t)
	e := newEnv(t)
	e.writeProject(t, map[string]any{"faults": map[string]any{"type": "http", "url": f.url()}})
	c := startProxy(t, e)
	if got := decodeResult(t, c.callTool("faults.echo", map[string]any{})).text(); got != "echoed" {
		t.Fatalf("first call: %q", got)
	}
	f.expireSessions()
	if msg := toolError(t, c.callTool("faults.echo", map[string]any{})); !strings.Contains(msg, "session expired") {
		t.Fatalf("the call that met the 404 should say the session expired: %q", msg)
	}
	if n := f.count(`"name":"echo"`); n != 2 {
		t.Fatalf("the server received %d echo calls, want 2: no silent replay", n)
	}
	if got := decodeResult(t, c.callTool("faults.echo", map[string]any{})).text(); got != "echoed" {
		t.Fatalf("after expiry: %q", got)
	}
	if n := f.inits(); n != 2 {
		t.Fatalf("initialize ran %d times, want 2", n)
	}
}

// An answer's event stream breaks mid-way; the plugin resumes it with
// Last-Event-ID and the call gets its answer.
func TestRemoteStreamResumed(t *testing.T) {
	t.Parallel()
	f := newFaultServer(t)
	e := newEnv(t)
	e.writeProject(t, map[string]any{"faults": map[string]any{"type": "http", "url": f.url()}})
	c := startProxy(t, e)
	if got := decodeResult(t, c.callTool("faults.drop", map[string]any{})).text(); got != "resumed after the drop" {
		t.Fatalf("got %q", got)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var resumes []string // GETs other than the standalone stream's
	for _, id := range f.gets {
		if id != "" {
			resumes = append(resumes, id)
		}
	}
	if len(resumes) != 1 || !strings.HasPrefix(resumes[0], "drop-") {
		t.Fatalf("GETs with Last-Event-ID: %q", f.gets)
	}
}

// A slow answer meets the server's timeout: the caller gets an error in
// time, the server is told, and the POST is abandoned.
func TestRemoteTimeout(t *testing.T) {
	t.Parallel()
	f := newFaultServer(t)
	e := newEnv(t)
	e.writeProject(t, map[string]any{"faults": map[string]any{"type": "http", "url": f.url(), "timeout": 1}})
	c := startProxy(t, e)
	c.toolNames()
	start := time.Now()
	msg := toolError(t, c.callTool("faults.slow", map[string]any{}))
	if !strings.Contains(msg, "did not answer") || time.Since(start) > 10*time.Second {
		t.Fatalf("after %s: %q", time.Since(start), msg)
	}
	select {
	case <-f.aborted:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow call's POST was never abandoned")
	}
	deadline := time.Now().Add(10 * time.Second)
	for f.count("notifications/cancelled") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the server was not sent notifications/cancelled")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A server that speaks only the older HTTP+SSE transport (mcp-go's) is
// found by falling back from streamable HTTP; the next start remembers it
// and does not probe again.
func TestRemoteSSEOnlyFoundByFallback(t *testing.T) {
	t.Parallel()
	s := server.NewMCPServer("sse-only", "1")
	s.AddTool(mcp.NewTool("hello", mcp.WithDescription("says hello")), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("hello over sse"), nil
	})
	var mu sync.Mutex
	probes := 0
	sse := server.NewSSEServer(s)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/sse" {
			mu.Lock()
			probes++
			mu.Unlock()
		}
		sse.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	e := newEnv(t)
	e.writeProject(t, map[string]any{"legacy": map[string]any{"url": srv.URL + "/sse"}})
	var probes1 int
	for run := 1; run <= 2; run++ {
		c := startProxy(t, e)
		if got := decodeResult(t, c.callTool("legacy.hello", map[string]any{})).text(); got != "hello over sse" {
			t.Fatalf("run %d: %q", run, got)
		}
		_ = c.stdin.Close()
		<-c.done
		mu.Lock()
		if run == 1 {
			probes1 = probes
		}
		mu.Unlock()
	}
	mu.Lock()
	defer mu.Unlock()
	if probes1 == 0 || probes != probes1 {
		t.Fatalf("streamable HTTP was probed %d times at the first start and %d at the second; want some, then none", probes1, probes-probes1)
	}
}

// A server answering 401 is marked "login required" with its challenge;
// every other server keeps working.
func TestRemoteLoginRequired(t *testing.T) {
	t.Parallel()
	repeated(t, testRemoteLoginRequired, onStreams)
}

func testRemoteLoginRequired(t *testing.T) {
	const challenge = `Bearer resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource"`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", challenge)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	e := newEnv(t)
	e.writeProject(t, map[string]any{
		"locked": map[string]any{"type": "http", "url": srv.URL + "/mcp"},
		"demo":   demoServer(),
	})
	c := startProxy(t, e)
	names := c.toolNames()
	if len(mirrored(names)) == 0 || strings.Contains(strings.Join(names, ","), "locked.") {
		t.Fatalf("tools: %v", names)
	}
	if got := decodeResult(t, c.callTool("demo.echo", map[string]any{"message": "still here"})).text(); !strings.Contains(got, "still here") {
		t.Fatalf("demo.echo: %q", got)
	}
	var servers struct {
		Servers []struct {
			Name  string `json:"name"`
			State string `json:"state"`
			Error string `json:"error"`
		} `json:"servers"`
	}
	if err := json.Unmarshal(decodeResult(t, c.callTool("proxy.list_servers", map[string]any{})).StructuredContent, &servers); err != nil {
		t.Fatal(err)
	}
	for _, s := range servers.Servers {
		switch s.Name {
		case "locked":
			if s.State != "login_required" || !strings.Contains(s.Error, challenge) {
				t.Fatalf("locked: state %q error %q", s.State, s.Error)
			}
		case "demo":
			if s.State != "ok" {
				t.Fatalf("demo: %q %q", s.State, s.Error)
			}
		}
	}
	st := c.mirrorStatus()
	if st.Servers["locked"].State != "login_required" {
		t.Fatalf("mirror_status: %+v", st.Servers["locked"])
	}
}

// The server's own requests reach the client and the answers come back;
// a request the server gives up is cancelled at the client under the id
// the client saw, and a late answer to it goes nowhere.
func TestRemoteServerRequestsAndCancellation(t *testing.T) {
	t.Parallel()
	repeated(t, testRemoteServerRequestsAndCancellation, onStreams)
}

func testRemoteServerRequestsAndCancellation(t *testing.T) {
	f := newFaultServer(t)
	f.push = make(chan string, 4)
	e := newEnv(t)
	e.writeProject(t, map[string]any{"faults": map[string]any{"type": "http", "url": f.url()}})
	c := startRPC(t, e.command())
	c.onRequest("elicitation/create", func(json.RawMessage) string {
		return `{"action":"accept","content":{"name":"Ada"}}`
	})
	release := make(chan struct{})
	c.onRequest("sampling/createMessage", func(json.RawMessage) string {
		<-release
		return `{"role":"assistant","content":{"type":"text","text":"too late"},"model":"m"}`
	})
	defer close(release)
	c.initializeWith(map[string]any{"elicitation": map[string]any{}, "sampling": map[string]any{}})
	c.toolNames() // the session, and its GET stream, are up

	f.push <- `{"jsonrpc":"2.0","id":"e1","method":"elicitation/create","params":{"message":"Your name?","requestedSchema":{"type":"object","properties":{"name":{"type":"string"}}}}}`
	deadline := time.Now().Add(10 * time.Second)
	for f.count(`"id":"e1"`) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the client's answer to elicitation/create never reached the server")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if f.count(`"Ada"`) != 1 {
		t.Fatal("the answer reached the server changed")
	}

	f.push <- `{"jsonrpc":"2.0","id":"s2","method":"sampling/createMessage","params":{"messages":[],"maxTokens":5}}`
	var asked json.RawMessage
	for deadline = time.Now().Add(10 * time.Second); asked == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the sampling request never reached the client")
		}
		if r := c.requestsReceived("sampling/createMessage"); len(r) > 0 {
			asked = r[0]
		}
	}
	var req struct {
		ID json.RawMessage `json:"id"`
	}
	_ = json.Unmarshal(asked, &req)
	f.push <- `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"s2","reason":"gave up"}}`
	if !c.waitNotification("notifications/cancelled", 10*time.Second) {
		t.Fatal("the client was not told the request was cancelled")
	}
	n := c.notifications("notifications/cancelled")[0]
	if !strings.Contains(string(n), `"requestId":`+string(req.ID)) || !strings.Contains(string(n), "gave up") {
		t.Fatalf("cancellation %s does not name the request the client saw (%s)", n, req.ID)
	}
	release <- struct{}{} // the client answers anyway
	time.Sleep(300 * time.Millisecond)
	if f.count(`"id":"s2"`) != 0 {
		t.Fatal("an answer to a cancelled request was sent to the server")
	}
}

// One session serves every call while in use (with the configured headers
// and key on each request), is ended with DELETE when idle, and a later call
// opens a new one.
func TestRemoteSessionPooledWithHeaders(t *testing.T) {
	t.Parallel()
	f := newFaultServer(t)
	e := newEnv(t)
	e.set("ICA_MCP_PROXY_UPSTREAM_IDLE_TTL_S=1", "E2E_TEAM=blue", "E2E_KEY=k-123")
	e.writeProject(t, map[string]any{"faults": map[string]any{
		"url": f.url(), "headers": map[string]any{"X-Team": "${E2E_TEAM}"}, "api_key": "${E2E_KEY}",
	}})
	c := startProxy(t, e)
	for range 5 {
		if got := decodeResult(t, c.callTool("faults.echo", map[string]any{})).text(); got != "echoed" {
			t.Fatalf("echo: %q", got)
		}
	}
	f.mu.Lock()
	inits := f.initCount
	for _, h := range f.headers {
		if h.Get("X-Team") != "blue" || h.Get("Authorization") != "Bearer k-123" {
			t.Errorf("a request without the configured headers: X-Team %q, Authorization %q", h.Get("X-Team"), h.Get("Authorization"))
		}
	}
	f.mu.Unlock()
	if inits != 1 {
		t.Fatalf("%d sessions for 5 calls, want 1", inits)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		d := f.deletes
		f.mu.Unlock()
		if d == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the idle session was not ended with DELETE")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := decodeResult(t, c.callTool("faults.echo", map[string]any{})).text(); got != "echoed" || f.inits() != 2 {
		t.Fatalf("after the idle close: %q, %d sessions", got, f.inits())
	}
}
