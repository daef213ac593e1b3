package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// startOIDC runs oidc-provider (test/peers/oidc-server.mjs), a real OAuth
// server, on a free loopback port for the MCP server at resource, and
// returns its issuer.
func startOIDC(t *testing.T, resource string, env ...string) string {
	t.Helper()
	needPeers(t)
	script := filepath.Join(peersDir, "oidc-server.mjs")
	if _, err := os.Stat(filepath.Join(peersDir, "node_modules", "oidc-provider")); err != nil {
		t.Skip("oidc-provider not installed: run `make peers`")
	}
	cmd := exec.Command("node", script)
	cmd.Dir = peersDir
	cmd.Env = append(append(os.Environ(), "MCP_RESOURCE="+resource), env...)
	return startListener(t, "oidc-provider", cmd)
}

// introspectedServer is an MCP server (mcp-go's) that accepts a token
// only when the authorization server's introspection says it is active
// and meant for this server, and of a kind it takes.
type introspectedServer struct {
	srv    *httptest.Server
	issuer string
	takes  takes
	mu     sync.Mutex
	seen   []string // introspection answers
	// schemes are the Authorization schemes of the requests that carried
	// a token, in order.
	schemes []string
}

// takes is the kind of token an introspected server takes, and what its
// metadata and challenge say of it.
type takes int

const (
	// takesEither: a Bearer token, or a DPoP-bound one with a proof by its
	// key; the resource metadata lists ES256 proofs.
	takesEither takes = iota
	// takesBearer: Bearer tokens only; nothing says anything of DPoP.
	takesBearer
	// takesDPoP: DPoP-bound tokens only; the resource metadata requires
	// them, and the challenge offers only the DPoP scheme.
	takesDPoP
	// takesBearerClaimingDPoP: Bearer tokens only, though the resource
	// metadata lists DPoP proofs (a server set up wrong).
	takesBearerClaimingDPoP
)

func newIntrospectedServer(t *testing.T) *introspectedServer {
	return newIntrospectedServerTaking(t, takesEither)
}

func newIntrospectedServerTaking(t *testing.T, kind takes) *introspectedServer {
	s := server.NewMCPServer("introspected", "1", server.WithToolCapabilities(true))
	s.AddTool(mcp.NewTool("whoami"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("a caller oidc-provider vouched for"), nil
	})
	// publish needs the write scope: a token without it is refused with
	// 403 insufficient_scope (a step-up).
	s.AddTool(mcp.NewTool("publish"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("published"), nil
	})
	h := server.NewStreamableHTTPServer(s)
	is := &introspectedServer{takes: kind}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		prm := map[string]any{"resource": is.srv.URL + "/mcp", "authorization_servers": []string{is.issuer}, "scopes_supported": []string{"mcp"}}
		switch kind {
		case takesEither, takesBearerClaimingDPoP:
			prm["dpop_signing_alg_values_supported"] = []string{"ES256"}
		case takesDPoP:
			prm["dpop_signing_alg_values_supported"] = []string{"ES256"}
			prm["dpop_bound_access_tokens_required"] = true
		}
		_ = json.NewEncoder(w).Encode(prm)
	})
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if tok != "" {
			is.mu.Lock()
			is.schemes = append(is.schemes, scheme)
			is.mu.Unlock()
		}
		active, scope, jkt := is.introspect(tok)
		// A token bound to a key (DPoP, RFC 9449) is taken only with the
		// DPoP scheme and a proof signed by that key; an unbound one only
		// as Bearer.
		switch {
		case jkt == "" && !strings.EqualFold(scheme, "Bearer"):
			active = false
		case jkt != "" && (!strings.EqualFold(scheme, "DPoP") || proofThumbprint(r.Header.Get("DPoP")) != jkt):
			active = false
		case kind == takesBearer || kind == takesBearerClaimingDPoP:
			active = active && strings.EqualFold(scheme, "Bearer")
		case kind == takesDPoP:
			active = active && jkt != ""
		}
		if tok == "" || !active {
			challenge := `Bearer resource_metadata="` + is.srv.URL + `/.well-known/oauth-protected-resource/mcp"`
			if kind == takesDPoP {
				challenge = `DPoP algs="ES256", resource_metadata="` + is.srv.URL + `/.well-known/oauth-protected-resource/mcp"`
			}
			if tok != "" {
				challenge += `, error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var call struct {
			Method string `json:"method"`
			Params struct {
				Name string `json:"name"`
			} `json:"params"`
		}
		_ = json.Unmarshal(body, &call)
		if call.Method == "tools/call" && call.Params.Name == "publish" && !slices.Contains(strings.Fields(scope), "write") {
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="write", resource_metadata="`+is.srv.URL+`/.well-known/oauth-protected-resource/mcp"`)
			http.Error(w, "insufficient scope", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

// active asks the authorization server whether tok is active and meant
// for this server (RFC 7662).
func (is *introspectedServer) active(tok string) bool {
	ok, _, _ := is.introspect(tok)
	return ok
}

// proofThumbprint is the RFC 7638 thumbprint of the EC key in a DPoP
// proof's header, "" when there is none.
func proofThumbprint(proof string) string {
	head, _, _ := strings.Cut(proof, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return ""
	}
	var h struct {
		JWK struct{ Crv, Kty, X, Y string } `json:"jwk"`
	}
	if json.Unmarshal(raw, &h) != nil || h.JWK.Kty != "EC" {
		return ""
	}
	sum := sha256.Sum256([]byte(`{"crv":"` + h.JWK.Crv + `","kty":"EC","x":"` + h.JWK.X + `","y":"` + h.JWK.Y + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// schemesSeen are the Authorization schemes of the requests so far that
// carried a token.
func (is *introspectedServer) schemesSeen() []string {
	is.mu.Lock()
	defer is.mu.Unlock()
	return slices.Clone(is.schemes)
}

// introspect asks the authorization server about tok (RFC 7662): whether
// it is active and meant for this server, and its scope.
func (is *introspectedServer) introspect(tok string) (active bool, scope, jkt string) {
	req, _ := http.NewRequest(http.MethodPost, is.issuer+"/token/introspection", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("mcp-server", "introspect")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, "", ""
	}
	defer func() { _ = resp.Body.Close() }()
	var r struct {
		Active bool   `json:"active"`
		Aud    any    `json:"aud"`
		Scope  string `json:"scope"`
		Cnf    struct {
			JKT string `json:"jkt"`
		} `json:"cnf"`
	}
	if json.NewDecoder(resp.Body).Decode(&r) != nil {
		return false, "", ""
	}
	aud, _ := json.Marshal(r.Aud)
	is.mu.Lock()
	is.seen = append(is.seen, string(aud))
	is.mu.Unlock()
	return r.Active && strings.Contains(string(aud), is.srv.URL+"/mcp"), r.Scope, r.Cnf.JKT
}

// Against a real OAuth server: the proxy discovers oidc-provider from the
// MCP server's metadata (RFC 9728, then OpenID discovery), gets a token for
// exactly that resource (RFC 8707) with the client credentials grant,
// bound to its key (DPoP, which oidc-provider offers), the MCP server's
// introspection accepts it with the proof, and logout revokes it there.
func TestClientCredentialsWithOIDCProvider(t *testing.T) {
	t.Parallel()
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
			DPoPKey     string `json:"dpop_key"`
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
	// oidc-provider offers DPoP: the token is bound to a key of the
	// proxy's, which the MCP server checked on every request (cnf.jkt).
	if tok.DPoPKey == "" {
		t.Fatal("the token is not DPoP-bound, though oidc-provider offers DPoP")
	}
	if out, err := e.command("auth", "logout", "svc").CombinedOutput(); err != nil {
		t.Fatalf("auth logout: %v\n%s", err, out)
	}
	if mcpSrv.active(tok.AccessToken) {
		t.Fatal("the token is still active at oidc-provider after logout")
	}
}

// browser follows links and fills the forms oidc-provider's development
// pages show (login, consent, device code), as a person would: hidden
// inputs are kept, the others are filled from fill. It returns the last
// page, which for a login is the proxy's own callback page.
func browser(t *testing.T, start string, fill map[string]string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	formRe := regexp.MustCompile(`(?is)<form([^>]*)>`)
	inputRe := regexp.MustCompile(`(?is)<input([^>]*)>`)
	attr := func(tag, name string) string {
		m := regexp.MustCompile(`(?i)\b` + name + `="([^"]*)"`).FindStringSubmatch(tag)
		if m == nil {
			return ""
		}
		return html.UnescapeString(m[1])
	}
	resp, err := c.Get(start)
	for range 8 {
		if err != nil {
			t.Fatalf("browser: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		page := string(body)
		m := formRe.FindStringSubmatch(page)
		if m == nil || !strings.EqualFold(attr(m[1], "method"), "post") {
			return page
		}
		form := url.Values{}
		for _, in := range inputRe.FindAllStringSubmatch(page, -1) {
			name := attr(in[1], "name")
			if name == "" {
				continue
			}
			if v, ok := fill[name]; ok {
				form.Set(name, v)
			} else {
				form.Set(name, attr(in[1], "value"))
			}
		}
		action, _ := resp.Request.URL.Parse(attr(m[1], "action"))
		resp, err = c.PostForm(action.String(), form)
	}
	t.Fatal("browser: too many forms")
	return ""
}

// docsBehindOIDC runs an MCP server protected by oidc-provider (started
// with env) and a proxy whose entry "docs" logs in to it with oauth (the
// browser never opened: the test plays it).
func docsBehindOIDC(t *testing.T, oauth map[string]any, env ...string) (*introspectedServer, *env, *rpc) {
	t.Helper()
	mcpSrv := newIntrospectedServer(t)
	mcpSrv.issuer = startOIDC(t, mcpSrv.srv.URL+"/mcp", env...)
	e := newEnv(t)
	oauth["options"] = map[string]any{"open_browser": false}
	e.writeProject(t, map[string]any{"docs": map[string]any{"url": mcpSrv.srv.URL + "/mcp", "oauth": oauth}})
	c := startProxy(t, e)
	c.toolNames()
	return mcpSrv, e, c
}

// authStart starts a login to docs with flow from the agent and returns
// its instructions.
func authStart(t *testing.T, c *rpc, flow string) (authorizationURL, verificationURIComplete, userCode string) {
	t.Helper()
	return authStartOf(t, c, "docs", flow)
}

// authStartOf is authStart for another server.
func authStartOf(t *testing.T, c *rpc, server, flow string) (authorizationURL, verificationURIComplete, userCode string) {
	t.Helper()
	r := decodeResult(t, c.callTool("proxy.auth_start", map[string]any{"server": server, "flow": flow}))
	if r.IsError {
		t.Fatalf("auth_start: %s", r.text())
	}
	var st struct {
		AuthorizationURL        string `json:"authorization_url"`
		VerificationURIComplete string `json:"verification_uri_complete"`
		UserCode                string `json:"user_code"`
	}
	_ = json.Unmarshal(r.StructuredContent, &st)
	return st.AuthorizationURL, st.VerificationURIComplete, st.UserCode
}

// approve plays the user who logs in and approves at the authorization URL.
func approve(t *testing.T, authorizationURL string) {
	t.Helper()
	if page := browser(t, authorizationURL, map[string]string{"login": "ada", "password": "any"}); !strings.Contains(page, "Logged in") {
		t.Fatalf("the browser ended on: %.500s", page)
	}
}

// waitLogin polls proxy.auth_status until the server's login is ok.
func waitLogin(t *testing.T, c *rpc, server string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := decodeResult(t, c.callTool("proxy.auth_status", map[string]any{"server": server}))
		if strings.Contains(string(st.StructuredContent), `"state":"ok"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the login never finished: %s", st.StructuredContent)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The two flows with a user, against oidc-provider, started from the
// agent: the proxy discovers the server, registers itself as a client,
// and the test plays the user in a browser. Then the token works, and
// refresh rotates it.
func TestUserFlowsWithOIDCProvider(t *testing.T) {
	t.Parallel()
	for _, flow := range []string{"pkce", "device_code"} {
		t.Run(flow, func(t *testing.T) {
			_, _, c := docsBehindOIDC(t, map[string]any{})
			start, complete, code := authStart(t, c, flow)
			if flow == "device_code" {
				if code == "" || complete == "" {
					t.Fatalf("device instructions: %q %q", complete, code)
				}
				start = complete
			}
			page := browser(t, start, map[string]string{"login": "ada", "password": "any", "user_code": code})
			if flow == "pkce" && !strings.Contains(page, "Logged in") {
				t.Fatalf("the browser ended on: %.500s", page)
			}
			waitLogin(t, c, "docs")
			waitTool(t, c, "docs.whoami")
			if got := decodeResult(t, c.callTool("docs.whoami", map[string]any{})).text(); got != "a caller oidc-provider vouched for" {
				t.Fatalf("docs.whoami: %q", got)
			}
			for i := range 2 { // rotation: each refresh spends the last refresh token
				if r := decodeResult(t, c.callTool("proxy.auth_refresh", map[string]any{"server": "docs"})); r.IsError {
					t.Fatalf("refresh %d: %s", i, r.text())
				}
			}
			if got := decodeResult(t, c.callTool("docs.whoami", map[string]any{})).text(); got != "a caller oidc-provider vouched for" {
				t.Fatalf("after refresh: %q", got)
			}
		})
	}
}

// A login with a client ID metadata document, against oidc-provider with
// documents on: the proxy names the document's URL as its client_id
// instead of registering, oidc-provider fetches the document (served here
// over https on loopback: the project's shipped document, at this URL),
// and the login, the call and a refresh work with that client.
func TestMetadataDocumentLoginWithOIDCProvider(t *testing.T) {
	t.Parallel()
	shipped, err := os.ReadFile(filepath.Join("..", "..", "docs", "client-metadata.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fetched sync.WaitGroup
	fetched.Add(1)
	var once sync.Once
	var doc map[string]any
	if err := json.Unmarshal(shipped, &doc); err != nil {
		t.Fatal(err)
	}
	docSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ica-mcp-proxy.json" {
			http.NotFound(w, r)
			return
		}
		once.Do(fetched.Done)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(docSrv.Close)
	docURL := docSrv.URL + "/ica-mcp-proxy.json"
	doc["client_id"] = docURL // served at its own client_id, as documents are
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: docSrv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	_, e, c := docsBehindOIDC(t, map[string]any{"client_metadata_url": docURL}, "OIDC_CIMD=1", "NODE_EXTRA_CA_CERTS="+ca)
	start, _, _ := authStart(t, c, "pkce")
	if au, err := url.Parse(start); err != nil || au.Query().Get("client_id") != docURL {
		t.Fatalf("the login does not name the document as its client_id: %s", start)
	}
	approve(t, start)
	fetched.Wait()
	waitLogin(t, c, "docs")
	waitTool(t, c, "docs.whoami")
	if got := decodeResult(t, c.callTool("docs.whoami", map[string]any{})).text(); got != "a caller oidc-provider vouched for" {
		t.Fatalf("docs.whoami: %q", got)
	}
	if r := decodeResult(t, c.callTool("proxy.auth_refresh", map[string]any{"server": "docs"})); r.IsError {
		t.Fatalf("refresh: %s", r.text())
	}
	var tokens struct {
		Servers map[string]struct {
			ClientID string `json:"client_id"`
		} `json:"servers"`
		Registrations map[string]json.RawMessage `json:"registrations"`
	}
	data, _ := os.ReadFile(filepath.Join(e.home, "mcp-tokens.json"))
	if err := json.Unmarshal(data, &tokens); err != nil {
		t.Fatal(err)
	}
	if tokens.Servers["docs"].ClientID != docURL || len(tokens.Registrations) != 0 {
		t.Fatalf("stored client %q and %d registrations, want the document and none", tokens.Servers["docs"].ClientID, len(tokens.Registrations))
	}
}

// Step-up against oidc-provider: a token for scope mcp calls whoami, but
// publish needs write and the server says so (403 insufficient_scope).
// The proxy starts a login asking for both scopes and answers the call
// with the URL to open; after the user grants it, the call goes through,
// and the token asked for mcp and write.
func TestStepUpWithOIDCProvider(t *testing.T) {
	t.Parallel()
	_, _, c := docsBehindOIDC(t, map[string]any{})
	start, _, _ := authStart(t, c, "pkce")
	approve(t, start)
	waitLogin(t, c, "docs")
	waitTool(t, c, "docs.publish")
	if got := decodeResult(t, c.callTool("docs.whoami", map[string]any{})).text(); got != "a caller oidc-provider vouched for" {
		t.Fatalf("docs.whoami: %q", got)
	}

	refused := decodeResult(t, c.callTool("docs.publish", map[string]any{}))
	m := regexp.MustCompile(`open (\S+) to grant it`).FindStringSubmatch(refused.text())
	if !refused.IsError || m == nil {
		t.Fatalf("publish without the write scope: %s", refused.text())
	}
	au, _ := url.Parse(m[1])
	if got := strings.Fields(au.Query().Get("scope")); !slices.Contains(got, "mcp") || !slices.Contains(got, "write") {
		t.Fatalf("the step-up asks for %q, want mcp and write together", got)
	}
	status := decodeResult(t, c.callTool("proxy.auth_status", map[string]any{"server": "docs"}))
	if !strings.Contains(string(status.StructuredContent), "insufficient_scope") {
		t.Fatalf("auth_status does not say why a login is wanted: %s", status.StructuredContent)
	}
	approve(t, m[1])
	waitLogin(t, c, "docs")
	var got string
	for range 50 { // the session with the new token opens on the next call
		if got = decodeResult(t, c.callTool("docs.publish", map[string]any{})).text(); got == "published" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got != "published" {
		t.Fatalf("publish after the step-up: %q", got)
	}
}
