package pkce

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk/sdktest"
)

// authServer is an authorization server for one PKCE login: /authorize
// redirects the browser back with a code (and, as RFC 9207 servers do,
// iss); /token checks the verifier against the challenge.
type authServer struct {
	srv *httptest.Server
	// iss is sent in the callback; state, when set, replaces the real one.
	iss, state string

	mu        sync.Mutex
	challenge string
	redirect  string
	exchanged int
}

func newAuthServer(t *testing.T) *authServer {
	a := &authServer{}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	a.iss = a.srv.URL
	t.Cleanup(a.srv.Close)
	return a
}

func (a *authServer) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/authorize":
		q := r.URL.Query()
		if q.Get("response_type") != "code" || q.Get("client_id") != "cli" || q.Get("code_challenge_method") != "S256" ||
			q.Get("resource") != "https://mcp.example/mcp" || q.Get("scope") != "read" {
			http.Error(w, "bad authorization request: "+q.Encode(), http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		a.challenge, a.redirect = q.Get("code_challenge"), q.Get("redirect_uri")
		a.mu.Unlock()
		state := q.Get("state")
		if a.state != "" {
			state = a.state
		}
		v := url.Values{"code": {"c-1"}, "state": {state}}
		if a.iss != "" {
			v.Set("iss", a.iss)
		}
		back := q.Get("redirect_uri") + "?" + v.Encode()
		http.Redirect(w, r, back, http.StatusFound)
	case "/token":
		_ = r.ParseForm()
		f := r.PostForm
		sum := sha256.Sum256([]byte(f.Get("code_verifier")))
		a.mu.Lock()
		ok := base64.RawURLEncoding.EncodeToString(sum[:]) == a.challenge && f.Get("code") == "c-1" &&
			f.Get("redirect_uri") == a.redirect && f.Get("resource") == "https://mcp.example/mcp" && f.Get("client_id") == "cli"
		a.exchanged++
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": "verifier or code wrong: " + f.Encode()})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at-1", "refresh_token": "rt-1", "token_type": "Bearer", "expires_in": 600})
	default:
		http.NotFound(w, r)
	}
}

func (a *authServer) grant() sdk.Grant {
	return sdk.Grant{
		Flow: Flow, Server: "docs",
		Endpoints: sdk.Endpoints{Issuer: a.srv.URL, AuthorizationURL: a.srv.URL + "/authorize", TokenURL: a.srv.URL + "/token"},
		Client:    sdk.Client{ClientID: "cli"},
		Scopes:    []string{"read"}, Resource: "https://mcp.example/mcp",
		Timeout: 20 * time.Second,
	}
}

// plugin serves the flow in-process; opened records what a browser would
// have been started on.
func plugin(t *testing.T) (sdk.AuthClient, *[]string) {
	impl := New("t")
	var opened []string
	var mu sync.Mutex
	impl.open = func(u string) error {
		mu.Lock()
		opened = append(opened, u)
		mu.Unlock()
		return nil
	}
	client, _ := sdktest.Auth(t, impl)
	return client, &opened
}

// browse follows the authorization URL as a browser would, through the
// redirect to the callback, and returns the final page.
func browse(t *testing.T, authURL string) (int, string) {
	t.Helper()
	resp, err := http.Get(authURL)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestLogin(t *testing.T) {
	a := newAuthServer(t)
	client, opened := plugin(t)
	st, err := client.Begin(ctx(t), a.grant())
	if err != nil {
		t.Fatal(err)
	}
	if len(*opened) != 1 || (*opened)[0] != st.AuthorizationURL || !strings.HasPrefix(st.AuthorizationURL, a.srv.URL+"/authorize?") {
		t.Fatalf("browser opened on %q, URL %q", *opened, st.AuthorizationURL)
	}
	u, _ := url.Parse(st.AuthorizationURL)
	redirect, _ := url.Parse(u.Query().Get("redirect_uri"))
	if redirect.Hostname() != "127.0.0.1" || redirect.Port() == "" {
		t.Fatalf("redirect_uri %s is not on loopback with a port", redirect)
	}
	status, page := browse(t, st.AuthorizationURL)
	if status != http.StatusOK || !strings.Contains(page, "Logged in") {
		t.Fatalf("callback page %d: %s", status, page)
	}
	tok, err := client.Await(ctx(t), st.FlowID)
	if err != nil || tok.AccessToken != "at-1" || tok.RefreshToken != "rt-1" {
		t.Fatalf("await: %#v %v", tok, err)
	}
	// One callback only: the listener is closed.
	waitClosed(t, redirect.Host)
}

// A configured redirect_uri on loopback is used as it is.
func TestConfiguredRedirectURI(t *testing.T) {
	a := newAuthServer(t)
	client, _ := plugin(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	g := a.grant()
	g.Client.RedirectURI = "http://127.0.0.1:" + strconv.Itoa(port) + "/oauth/cb"
	st, err := client.Begin(ctx(t), g)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.AuthorizationURL, url.QueryEscape(g.Client.RedirectURI)) {
		t.Fatalf("authorization URL %s does not carry the configured redirect_uri", st.AuthorizationURL)
	}
	if status, page := browse(t, st.AuthorizationURL); status != http.StatusOK {
		t.Fatalf("callback %d: %s", status, page)
	}
	if tok, err := client.Await(ctx(t), st.FlowID); err != nil || tok.AccessToken != "at-1" {
		t.Fatalf("await: %v", err)
	}
}

func waitClosed(t *testing.T, hostport string) {
	t.Helper()
	for range 100 {
		c, err := net.DialTimeout("tcp", hostport, 100*time.Millisecond)
		if err != nil {
			return
		}
		_ = c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the callback listener on %s is still open", hostport)
}

func TestHostileCallbacks(t *testing.T) {
	cases := map[string]struct {
		tweak   func(*authServer)
		options string
		want    string
	}{
		"wrong state": {func(a *authServer) { a.state = "forged" }, "", "state does not match"},
		"wrong iss":   {func(a *authServer) { a.iss = "https://evil.example" }, "", "iss"},
		// A server whose metadata promises iss (RFC 9207) must send it.
		"missing iss when promised": {func(a *authServer) { a.iss = "" }, `{"require_iss":true}`, "has no iss"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			a := newAuthServer(t)
			c.tweak(a)
			client, _ := plugin(t)
			g := a.grant()
			if c.options != "" {
				g.Options = []byte(c.options)
			}
			st, err := client.Begin(ctx(t), g)
			if err != nil {
				t.Fatal(err)
			}
			status, _ := browse(t, st.AuthorizationURL)
			if status != http.StatusBadRequest {
				t.Fatalf("callback answered %d", status)
			}
			if _, err := client.Await(ctx(t), st.FlowID); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("await: %v, want %q", err, c.want)
			}
			a.mu.Lock()
			defer a.mu.Unlock()
			if a.exchanged != 0 {
				t.Fatal("the code was exchanged after a refused callback")
			}
		})
	}
}

func TestRefusedBeforeStarting(t *testing.T) {
	a := newAuthServer(t)
	client, opened := plugin(t)
	for name, tweak := range map[string]func(*sdk.Grant){
		"javascript authorization URL": func(g *sdk.Grant) { g.Endpoints.AuthorizationURL = "javascript:alert(1)" },
		"http authorization URL":       func(g *sdk.Grant) { g.Endpoints.AuthorizationURL = "http://as.example/authorize" },
		"remote redirect_uri":          func(g *sdk.Grant) { g.Client.RedirectURI = "http://attacker.example/cb" },
		"https redirect_uri":           func(g *sdk.Grant) { g.Client.RedirectURI = "https://127.0.0.1:9/cb" },
	} {
		g := a.grant()
		tweak(&g)
		if _, err := client.Begin(ctx(t), g); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if len(*opened) != 0 {
		t.Fatalf("a browser was opened for a refused login: %q", *opened)
	}
}

func TestTimeoutClosesTheListener(t *testing.T) {
	a := newAuthServer(t)
	client, _ := plugin(t)
	g := a.grant()
	g.Timeout = 300 * time.Millisecond
	st, err := client.Begin(ctx(t), g)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(st.AuthorizationURL)
	redirect, _ := url.Parse(u.Query().Get("redirect_uri"))
	if _, err := client.Await(ctx(t), st.FlowID); err == nil || !strings.Contains(err.Error(), "no login within") {
		t.Fatalf("await after the timeout: %v", err)
	}
	waitClosed(t, redirect.Host)
}
