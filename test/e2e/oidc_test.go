package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// startOIDC runs oidc-provider (test/peers/oidc-server.mjs), a real OAuth
// server, on a free loopback port for the MCP server at resource, and
// returns its issuer.
func startOIDC(t *testing.T, resource string) string {
	t.Helper()
	needPeers(t)
	script := filepath.Join(peersDir, "oidc-server.mjs")
	if _, err := os.Stat(filepath.Join(peersDir, "node_modules", "oidc-provider")); err != nil {
		t.Skip("oidc-provider not installed: run `make peers`")
	}
	port := freePort(t)
	cmd := exec.Command("node", script)
	cmd.Dir = peersDir
	cmd.Env = append(os.Environ(), "PORT="+port, "MCP_RESOURCE="+resource)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("oidc-provider output:\n%s", out.String())
		}
	})
	addr := "127.0.0.1:" + port
	for range 300 {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return "http://" + addr
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("oidc-provider did not listen on %s:\n%s", addr, out.String())
	return ""
}

// introspectedServer is an MCP server (mcp-go's) that accepts a bearer
// token only when the authorization server's introspection says it is
// active and meant for this server.
type introspectedServer struct {
	srv    *httptest.Server
	issuer string
	mu     sync.Mutex
	seen   []string // introspection answers
}

func newIntrospectedServer(t *testing.T) *introspectedServer {
	s := server.NewMCPServer("introspected", "1", server.WithToolCapabilities(true))
	s.AddTool(mcp.NewTool("whoami"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("a caller oidc-provider vouched for"), nil
	})
	h := server.NewStreamableHTTPServer(s)
	is := &introspectedServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"resource": is.srv.URL + "/mcp", "authorization_servers": []string{is.issuer}, "scopes_supported": []string{"mcp"}})
	})
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if tok == "" || !is.active(tok) {
			w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+is.srv.URL+`/.well-known/oauth-protected-resource/mcp"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

// active asks the authorization server about tok (RFC 7662).
func (is *introspectedServer) active(tok string) bool {
	req, _ := http.NewRequest(http.MethodPost, is.issuer+"/token/introspection", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("mcp-server", "introspect")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var r struct {
		Active bool `json:"active"`
		Aud    any  `json:"aud"`
	}
	if json.NewDecoder(resp.Body).Decode(&r) != nil {
		return false
	}
	aud, _ := json.Marshal(r.Aud)
	is.mu.Lock()
	is.seen = append(is.seen, string(aud))
	is.mu.Unlock()
	return r.Active && strings.Contains(string(aud), is.srv.URL+"/mcp")
}

// Against a real OAuth server: the proxy discovers oidc-provider from the
// MCP server's metadata (RFC 9728, then OpenID discovery), gets a token for
// exactly that resource (RFC 8707) with the client credentials grant, the
// MCP server's introspection accepts it, and logout revokes it there.
func TestClientCredentialsWithOIDCProvider(t *testing.T) {
	mcpSrv := newIntrospectedServer(t)
	mcpSrv.issuer = startOIDC(t, mcpSrv.srv.URL+"/mcp")
	e := newEnv(t)
	e.set("SVC_SECRET=s3cret")
	e.writeProject(t, map[string]any{"svc": map[string]any{"url": mcpSrv.srv.URL + "/mcp", "oauth": map[string]any{
		"flow": "client_credentials", "client_id": "svc", "client_secret": "${SVC_SECRET}", "scopes": "mcp",
	}}})

	out, err := e.command("call", "svc", "whoami").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "auth login svc") {
		t.Fatalf("before login, the call should say how to log in: %v\n%s", err, out)
	}
	if out, err := e.command("auth", "login", "svc").CombinedOutput(); err != nil || !strings.Contains(string(out), "logged in to svc") {
		t.Fatalf("auth login: %v\n%s", err, out)
	}
	out, err = e.command("call", "svc", "whoami").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "a caller oidc-provider vouched for") {
		t.Fatalf("call after login: %v\n%s", err, out)
	}
	var tokens struct {
		Servers map[string]struct {
			AccessToken string `json:"access_token"`
			Issuer      string `json:"issuer"`
			Resource    string `json:"resource"`
		} `json:"servers"`
	}
	data, _ := os.ReadFile(filepath.Join(e.home, "mcp-tokens.json"))
	if err := json.Unmarshal(data, &tokens); err != nil {
		t.Fatal(err)
	}
	tok := tokens.Servers["svc"]
	if tok.Issuer != mcpSrv.issuer || tok.Resource != mcpSrv.srv.URL+"/mcp" {
		t.Fatalf("stored token: issuer %q resource %q", tok.Issuer, tok.Resource)
	}
	if out, err := e.command("auth", "logout", "svc").CombinedOutput(); err != nil {
		t.Fatalf("auth logout: %v\n%s", err, out)
	}
	if mcpSrv.active(tok.AccessToken) {
		t.Fatal("the token is still active at oidc-provider after logout")
	}
}
