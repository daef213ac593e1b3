package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// storedTokens reads mcp-tokens.json: per server, whether the token is
// bound to a key, and why the login asked for its kind.
func storedTokens(t *testing.T, e *env) map[string]struct {
	DPoPKey    string `json:"dpop_key"`
	KindReason string `json:"kind_reason"`
} {
	t.Helper()
	var tokens struct {
		Servers map[string]struct {
			DPoPKey    string `json:"dpop_key"`
			KindReason string `json:"kind_reason"`
		} `json:"servers"`
	}
	data, _ := os.ReadFile(filepath.Join(e.home, "mcp-tokens.json"))
	if err := json.Unmarshal(data, &tokens); err != nil {
		t.Fatal(err)
	}
	return tokens.Servers
}

// authStatusOf is proxy.auth_status for one server.
func authStatusOf(t *testing.T, c *rpc, server string) (state, tokenType, reason, why string) {
	t.Helper()
	r := decodeResult(t, c.callTool("proxy.auth_status", map[string]any{"server": server}))
	var st []struct {
		State           string `json:"state"`
		TokenType       string `json:"token_type"`
		TokenTypeReason string `json:"token_type_reason"`
		Reason          string `json:"reason"`
	}
	if err := json.Unmarshal(r.StructuredContent, &st); err != nil || len(st) != 1 {
		t.Fatalf("auth_status %s: %v %s", server, err, r.StructuredContent)
	}
	s := st[0]
	return s.State, s.TokenType, s.TokenTypeReason, s.Reason
}

// One oidc-provider that offers DPoP, two MCP servers behind it: one that
// takes only Bearer tokens (and says nothing of DPoP), one that takes only
// DPoP-bound ones (its metadata requires them). One login each, by the
// user in a browser, and a call each works: the first with a Bearer
// token, the second with a bound one from the start, never tried with a
// Bearer token.
func TestTokenKindPerServerWithOIDCProvider(t *testing.T) {
	t.Parallel()
	plain := newIntrospectedServerTaking(t, takesBearer)
	bound := newIntrospectedServerTaking(t, takesDPoP)
	issuer := startOIDC(t, plain.srv.URL+"/mcp "+bound.srv.URL+"/mcp")
	plain.issuer, bound.issuer = issuer, issuer
	e := newEnv(t)
	e.writeProject(t, map[string]any{
		"plain": map[string]any{"url": plain.srv.URL + "/mcp", "oauth": map[string]any{"options": map[string]any{"open_browser": false}}},
		"bound": map[string]any{"url": bound.srv.URL + "/mcp", "oauth": map[string]any{"options": map[string]any{"open_browser": false}}},
	})
	c := startProxy(t, e)
	c.toolNames()

	for _, server := range []string{"plain", "bound"} {
		start, _, _ := authStartOf(t, c, server, "pkce")
		approve(t, start)
		waitLogin(t, c, server)
		waitTool(t, c, server+".whoami")
		if got := decodeResult(t, c.callTool(server+".whoami", map[string]any{})).text(); got != "a caller oidc-provider vouched for" {
			t.Fatalf("%s.whoami: %q", server, got)
		}
	}

	if got := plain.schemesSeen(); len(got) == 0 || slices.ContainsFunc(got, func(s string) bool { return s != "Bearer" }) {
		t.Fatalf("the Bearer-only server saw the schemes %q", got)
	}
	if got := bound.schemesSeen(); len(got) == 0 || slices.ContainsFunc(got, func(s string) bool { return s != "DPoP" }) {
		t.Fatalf("the DPoP-only server saw the schemes %q (a Bearer token tried first?)", got)
	}
	tokens := storedTokens(t, e)
	if tokens["plain"].DPoPKey != "" || tokens["bound"].DPoPKey == "" {
		t.Fatalf("keys: plain %t, bound %t", tokens["plain"].DPoPKey != "", tokens["bound"].DPoPKey != "")
	}
	for server, want := range map[string][2]string{
		"plain": {"Bearer", "does not ask for DPoP"},
		"bound": {"DPoP", "dpop_bound_access_tokens_required"},
	} {
		state, kind, why, _ := authStatusOf(t, c, server)
		if state != "ok" || kind != want[0] || !strings.Contains(why, want[1]) {
			t.Fatalf("%s: auth_status %s, %s token (%s)", server, state, kind, why)
		}
	}
}

// A server whose metadata lists DPoP proofs but that takes only Bearer
// tokens (set up wrong): the first login gets a DPoP-bound token, and the
// server refuses it with a challenge that offers only Bearer.
//   - client credentials: the proxy gets a Bearer token at once (the flow
//     needs no user), and the call goes through;
//   - pkce: oidc-provider binds a public client's refresh token too, so
//     no Bearer token can be had without the user: the call says to log
//     in again, auth_status says why, and the next login gets Bearer.
//
// Either way the kind is remembered in mcp-upstreams.json: the next
// process, and the next login, go to Bearer at once.
//
// Not in parallel: under load a second dial can start before the refusal
// switched the kind, and the server sees the refused token twice (noted in
// issue 26's closing note, not fixed yet).
func TestDPoPRefusedFallsBackToBearerWithOIDCProvider(t *testing.T) {
	t.Run("client_credentials", func(t *testing.T) {
		mcpSrv := newIntrospectedServerTaking(t, takesBearerClaimingDPoP)
		mcpSrv.issuer = startOIDC(t, mcpSrv.srv.URL+"/mcp")
		e := newEnv(t)
		e.set("SVC_SECRET=s3cret")
		e.writeProject(t, map[string]any{"svc": map[string]any{"url": mcpSrv.srv.URL + "/mcp", "oauth": map[string]any{
			"flow": "client_credentials", "client_id": "svc", "client_secret": "${SVC_SECRET}", "scopes": "mcp",
		}}})
		if out, err := e.command("auth", "login", "svc").CombinedOutput(); err != nil || !strings.Contains(string(out), "logged in to svc (client_credentials, DPoP token)") {
			t.Fatalf("auth login: %v\n%s", err, out)
		}
		if out, err := e.command("call", "svc", "whoami").CombinedOutput(); err != nil || !strings.Contains(string(out), "a caller oidc-provider vouched for") {
			t.Fatalf("call after the refusal: %v\n%s", err, out)
		}
		tok := storedTokens(t, e)["svc"]
		if tok.DPoPKey != "" || !strings.Contains(tok.KindReason, "refused a DPoP token") {
			t.Fatalf("after the refusal: key %t, reason %q", tok.DPoPKey != "", tok.KindReason)
		}
		assertRemembered(t, e, "svc", "Bearer")
		// A new process, and a new login: Bearer from the start.
		if out, err := e.command("auth", "logout", "svc").CombinedOutput(); err != nil {
			t.Fatalf("auth logout: %v\n%s", err, out)
		}
		if out, err := e.command("auth", "login", "svc").CombinedOutput(); err != nil || !strings.Contains(string(out), "Bearer token") {
			t.Fatalf("auth login again: %v\n%s", err, out)
		}
		if out, err := e.command("call", "svc", "whoami").CombinedOutput(); err != nil || !strings.Contains(string(out), "a caller oidc-provider vouched for") {
			t.Fatalf("call in a new process: %v\n%s", err, out)
		}
		if got := mcpSrv.schemesSeen(); strings.Count(strings.Join(got, " "), "DPoP") != 1 {
			t.Fatalf("the server saw the schemes %q: want one DPoP (the refused token), then Bearer", got)
		}
	})

	t.Run("pkce", func(t *testing.T) {
		mcpSrv := newIntrospectedServerTaking(t, takesBearerClaimingDPoP)
		mcpSrv.issuer = startOIDC(t, mcpSrv.srv.URL+"/mcp")
		e := newEnv(t)
		e.writeProject(t, map[string]any{"docs": map[string]any{"url": mcpSrv.srv.URL + "/mcp", "oauth": map[string]any{"options": map[string]any{"open_browser": false}}}})
		c := startProxy(t, e)
		c.toolNames()
		start, _, _ := authStart(t, c, "pkce")
		approve(t, start)
		// The login recycles the session and lists the tools again: that
		// meets the refusal. The call, and auth_status, say what to do.
		var state, kind, reason string
		deadline := time.Now().Add(30 * time.Second)
		for state != "refused" && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
			state, kind, _, reason = authStatusOf(t, c, "docs")
		}
		if state != "refused" || kind != "DPoP" || !strings.Contains(reason, "takes only Bearer tokens") {
			t.Fatalf("auth_status after the refusal: %s, %s token (%s)", state, kind, reason)
		}
		if storedTokens(t, e)["docs"].DPoPKey == "" {
			t.Fatal("the first login is not DPoP-bound, though the metadata lists DPoP")
		}
		r := decodeResult(t, c.callTool("proxy.call", map[string]any{"server": "docs", "tool": "whoami"}))
		if !r.IsError || !strings.Contains(r.text(), "the next login asks for a Bearer token") {
			t.Fatalf("a call after the refusal: %s", r.text())
		}
		assertRemembered(t, e, "docs", "Bearer")
		start, _, _ = authStart(t, c, "pkce")
		approve(t, start)
		waitLogin(t, c, "docs")
		waitTool(t, c, "docs.whoami")
		if got := decodeResult(t, c.callTool("docs.whoami", map[string]any{})).text(); got != "a caller oidc-provider vouched for" {
			t.Fatalf("docs.whoami after the second login: %q", got)
		}
		if state, kind, why, _ := authStatusOf(t, c, "docs"); state != "ok" || kind != "Bearer" || !strings.Contains(why, "mcp-upstreams.json") {
			t.Fatalf("auth_status: %s, %s token (%s)", state, kind, why)
		}
	})
}

// assertRemembered checks mcp-upstreams.json keeps kind for server's entry.
func assertRemembered(t *testing.T, e *env, server, kind string) {
	t.Helper()
	memo := readMemo(t, e)
	for key, r := range memo.TokenKinds {
		if strings.HasPrefix(key, server+"@") && r.Kind == kind {
			return
		}
	}
	t.Fatalf("mcp-upstreams.json does not remember %s for %s: %+v", kind, server, memo.TokenKinds)
}
