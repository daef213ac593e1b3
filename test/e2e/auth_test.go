package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// protectedSite is an OAuth-protected MCP server (mcp-go's, streamable
// HTTP, behind a bearer check) with its authorization server on the same
// loopback origin: RFC 9728 and 8414 metadata, dynamic registration, a
// device flow the user approves at once, refresh with rotation, and
// revocation.
type protectedSite struct {
	srv *httptest.Server

	mu       sync.Mutex
	valid    map[string]bool // access tokens accepted
	n        int
	revoked  []string
	register int
	// refreshes counts refresh grants; reused counts refresh tokens
	// presented twice (refused, as with rotation).
	refreshes, reused int
	spent             map[string]bool
}

func newProtectedSite(t *testing.T) *protectedSite {
	s := server.NewMCPServer("protected", "1", server.WithToolCapabilities(true))
	s.AddTool(mcp.NewTool("whoami", mcp.WithDescription("says who is calling")), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("an authorized caller"), nil
	})
	mcpHandler := server.NewStreamableHTTPServer(s)
	p := &protectedSite{valid: map[string]bool{}, spent: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		p.mu.Lock()
		ok := p.valid[tok]
		p.mu.Unlock()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+p.srv.URL+`/.well-known/oauth-protected-resource/mcp"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		mcpHandler.ServeHTTP(w, r)
	})
	js := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"resource": p.srv.URL + "/mcp", "authorization_servers": []string{p.srv.URL}})
	})
	mux.HandleFunc("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		b := p.srv.URL
		js(w, 200, map[string]any{"issuer": b, "authorization_endpoint": b + "/authorize", "token_endpoint": b + "/token",
			"device_authorization_endpoint": b + "/device", "registration_endpoint": b + "/register", "revocation_endpoint": b + "/revoke",
			"code_challenge_methods_supported": []string{"S256"}})
	})
	mux.HandleFunc("/register", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.register++
		p.mu.Unlock()
		js(w, 201, map[string]any{"client_id": "proxy-client"})
	})
	mux.HandleFunc("/device", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"device_code": "dc", "user_code": "LOGIN-123", "verification_uri": p.srv.URL + "/activate", "interval": 1, "expires_in": 60})
	})
	mux.HandleFunc("/revoke", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		p.mu.Lock()
		p.revoked = append(p.revoked, r.PostForm.Get("token"))
		delete(p.valid, r.PostForm.Get("token"))
		p.mu.Unlock()
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.PostForm.Get("resource") != p.srv.URL+"/mcp" {
			js(w, 400, map[string]string{"error": "invalid_target"})
			return
		}
		p.mu.Lock()
		if r.PostForm.Get("grant_type") == "refresh_token" {
			rt := r.PostForm.Get("refresh_token")
			if p.spent[rt] {
				p.reused++
				p.mu.Unlock()
				js(w, 400, map[string]string{"error": "invalid_grant", "error_description": "refresh token already used"})
				return
			}
			p.spent[rt] = true
			p.refreshes++
		}
		p.n++
		at := "at-" + strconv.Itoa(p.n)
		p.valid[at] = true
		p.mu.Unlock()
		js(w, 200, map[string]any{"access_token": at, "refresh_token": "rt-" + strconv.Itoa(p.n), "token_type": "Bearer", "expires_in": 3600})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// A server that needs a login: marked login_required, logged in to from
// the agent with proxy.auth_start (device flow), then mirrored and called
// with the token; the token never shows in a result, the file is private,
// and logout revokes it.
func TestLoginFromTheAgent(t *testing.T) {
	t.Parallel()
	site := newProtectedSite(t)
	e := newEnv(t)
	e.writeProject(t, map[string]any{
		"locked": map[string]any{"url": site.srv.URL + "/mcp"},
		"demo":   demoServer(),
	})
	c := startProxy(t, e)
	c.toolNames()
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
		if s.Name == "locked" && (s.State != "login_required" || !strings.Contains(s.Error, "proxy.auth_start")) {
			t.Fatalf("locked: %q %q", s.State, s.Error)
		}
	}

	started := decodeResult(t, c.callTool("proxy.auth_start", map[string]any{"server": "locked", "flow": "device_code"}))
	if started.IsError || !strings.Contains(string(started.StructuredContent), "LOGIN-123") {
		t.Fatalf("auth_start: %s", started.StructuredContent)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := decodeResult(t, c.callTool("proxy.auth_status", map[string]any{"server": "locked"}))
		if strings.Contains(string(st.StructuredContent), `"state":"ok"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the login never finished: %s", st.StructuredContent)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Logged in: the server's tools are mirrored (list_changed) and work.
	waitTool(t, c, "locked.whoami")
	if got := decodeResult(t, c.callTool("locked.whoami", map[string]any{})).text(); got != "an authorized caller" {
		t.Fatalf("locked.whoami: %q", got)
	}
	// The server drops the access token early: the next call meets a 401
	// mid-session, and is carried out after one refresh.
	site.mu.Lock()
	site.valid = map[string]bool{}
	site.mu.Unlock()
	if got := decodeResult(t, c.callTool("locked.whoami", map[string]any{})).text(); got != "an authorized caller" {
		t.Fatalf("locked.whoami after the token was dropped: %q", got)
	}
	site.mu.Lock()
	refreshes := site.refreshes
	site.mu.Unlock()
	if refreshes != 1 {
		t.Fatalf("%d refreshes after a refused token, want 1", refreshes)
	}
	status := decodeResult(t, c.callTool("proxy.auth_status", map[string]any{})).StructuredContent
	if strings.Contains(string(status), "at-") || strings.Contains(string(status), "rt-") {
		t.Fatalf("auth_status shows a token: %s", status)
	}
	fi, err := os.Stat(filepath.Join(e.home, "mcp-tokens.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}

	// The CLI sees the same login, and logs out.
	out, err := e.command("auth", "status", "locked").Output()
	if err != nil || !strings.Contains(string(out), `"state": "ok"`) {
		t.Fatalf("auth status: %v %s", err, out)
	}
	if out, err := e.command("auth", "logout", "locked").CombinedOutput(); err != nil {
		t.Fatalf("auth logout: %v %s", err, out)
	}
	site.mu.Lock()
	revoked := slices.Clone(site.revoked)
	site.mu.Unlock()
	if len(revoked) == 0 {
		t.Fatal("logout did not revoke the token")
	}
}

// The CLI logs in with the client credentials grant from the server's
// oauth settings, and shows it.
func TestLoginFromTheCLI(t *testing.T) {
	t.Parallel()
	site := newProtectedSite(t)
	e := newEnv(t)
	e.writeProject(t, map[string]any{
		"svc": map[string]any{"url": site.srv.URL + "/mcp", "oauth": map[string]any{
			"flow": "client_credentials", "token_url": site.srv.URL + "/token", "client_id": "svc", "client_secret": "${SVC_SECRET}",
		}},
	})
	e.set("SVC_SECRET=s3cret")
	out, err := e.command("auth", "login", "svc").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "logged in to svc") {
		t.Fatalf("auth login: %v\n%s", err, out)
	}
	out, err = e.command("call", "svc", "whoami").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "an authorized caller") {
		t.Fatalf("call after login: %v\n%s", err, out)
	}
}

// Two proxy processes that need a fresh token at the same moment: one
// refreshes, the other reads its result; no refresh token is presented
// twice, and the file stays whole.
func TestTwoProxiesRefreshOnce(t *testing.T) {
	t.Parallel()
	site := newProtectedSite(t)
	e := newEnv(t)
	e.writeProject(t, map[string]any{"locked": map[string]any{"url": site.srv.URL + "/mcp", "oauth": map[string]any{"flow": "device_code"}}})
	if out, err := e.command("auth", "login", "locked").CombinedOutput(); err != nil {
		t.Fatalf("auth login: %v\n%s", err, out)
	}
	// Make the token about to expire, as if an hour had passed.
	path := filepath.Join(e.home, "mcp-tokens.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	f["servers"].(map[string]any)["locked"].(map[string]any)["expiry"] = time.Now().Add(20 * time.Second).UTC().Format(time.RFC3339)
	data, _ = json.Marshal(f)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	outs := make([][]byte, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() { outs[i], errs[i] = e.command("call", "locked", "whoami").CombinedOutput() })
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil || !strings.Contains(string(outs[i]), "an authorized caller") {
			t.Fatalf("proxy %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	site.mu.Lock()
	refreshes, reused := site.refreshes, site.reused
	site.mu.Unlock()
	if refreshes != 1 || reused != 0 {
		t.Fatalf("%d refreshes and %d reused refresh tokens; want 1 and 0", refreshes, reused)
	}
	data, err = os.ReadFile(path)
	if err != nil || json.Unmarshal(data, &f) != nil {
		t.Fatalf("the token file is not whole: %v\n%s", err, data)
	}
}
