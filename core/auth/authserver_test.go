package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/tokenstore"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/auth-client-credentials/clientcreds"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/auth-device/device"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/auth-pkce/pkce"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk/sdktest"
)

// The fixture of the Manager's tests: the bundled auth plugins in-process,
// and an authorization server on loopback that follows the OAuth rules
// the tests need (discovery, registration, device and client-credentials
// grants, DPoP-bound tokens).

// inProcess finds the bundled plugins by flow name.
type inProcess map[string]sdk.AuthClient

func (p inProcess) Auth(_ context.Context, flow string) (sdk.AuthClient, string, error) {
	if c, ok := p[flow]; ok {
		return c, "in-process " + flow, nil
	}
	return nil, "", &noPlugin{flow}
}

type noPlugin struct{ flow string }

func (e *noPlugin) Error() string { return "no auth plugin provides " + e.flow }

func plugins(t *testing.T) inProcess {
	cc, _ := sdktest.Auth(t, clientcreds.New("t"))
	dc, _ := sdktest.Auth(t, device.New("t"))
	pk, _ := sdktest.Auth(t, pkce.New("t"))
	mint, _ := sdktest.Auth(t, &minting{})
	return inProcess{"client_credentials": cc, "device_code": dc, "pkce": pk, "minted": mint}
}

// authServer is an MCP server's site and its authorization server: RFC
// 9728 and 8414 metadata, registration, the device flow, refresh with
// rotation, client credentials and revocation.
type authServer struct {
	srv *httptest.Server

	mu     sync.Mutex
	noS256 bool
	// cimd: the metadata says client ID metadata documents are accepted.
	cimd bool
	// webRedirectsOnly: registration refuses loopback redirects.
	webRedirectsOnly bool
	// dpop: the metadata offers DPoP; resourceDPoP: the resource
	// metadata lists it too; proofs counts the token requests that
	// carried one (their tokens are bound: token_type DPoP); failRefresh
	// refuses every refresh.
	dpop, resourceDPoP bool
	proofs             int
	failRefresh        bool
	// bearerOnly: tokens are Bearer even when the request proved a key.
	bearerOnly bool
	// movedTo, when set, is the authorization server the resource
	// metadata names instead of this one.
	movedTo string
	// resource is the MCP server this one issues tokens for, when it is
	// not the one on its own site.
	resource string
	// scopes are the scope parameters the device endpoint saw; granted,
	// when set, is the scope every token is said to carry.
	scopes  []string
	granted string
	// clientIDs are the client_ids the device and token endpoints saw.
	clientIDs     []string
	registrations int
	revoked       []string
	spent         map[string]bool
	n             int
}

func newAuthServer(t *testing.T) *authServer {
	a := &authServer{spent: map[string]bool{}}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *authServer) json(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (a *authServer) token(w http.ResponseWriter, bound bool) {
	a.n++
	kind := "Bearer"
	if bound {
		kind = "DPoP"
	}
	t := map[string]any{"access_token": "at-" + itoa(a.n), "refresh_token": "rt-" + itoa(a.n), "token_type": kind, "expires_in": 3600}
	if a.granted != "" {
		t["scope"] = a.granted
	}
	a.json(w, 200, t)
}

func itoa(n int) string { return strconv.Itoa(n) }

func (a *authServer) serve(w http.ResponseWriter, r *http.Request) {
	base := a.srv.URL
	a.mu.Lock()
	defer a.mu.Unlock()
	switch r.URL.Path {
	case "/.well-known/oauth-protected-resource/mcp":
		issuer := base
		if a.movedTo != "" {
			issuer = a.movedTo
		}
		prm := map[string]any{"resource": base + "/mcp", "authorization_servers": []string{issuer}, "scopes_supported": []string{"mcp"}}
		if a.resourceDPoP {
			prm["dpop_signing_alg_values_supported"] = []string{"ES256"}
		}
		a.json(w, 200, prm)
	case "/.well-known/oauth-authorization-server":
		var dpopAlgs []string
		if a.dpop {
			dpopAlgs = []string{"ES256"}
		}
		methods := []string{"S256"}
		if a.noS256 {
			methods = []string{"plain"}
		}
		a.json(w, 200, map[string]any{"issuer": base, "token_endpoint": base + "/token", "device_authorization_endpoint": base + "/device",
			"authorization_endpoint": base + "/authorize", "registration_endpoint": base + "/register", "revocation_endpoint": base + "/revoke",
			"code_challenge_methods_supported": methods, "client_id_metadata_document_supported": a.cimd,
			"dpop_signing_alg_values_supported": dpopAlgs})
	case "/register":
		var req registrationRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		if req.ApplicationType != "native" || req.TokenEndpointAuthMethod != "none" {
			a.json(w, 400, map[string]string{"error": "invalid_client_metadata"})
			return
		}
		if a.webRedirectsOnly {
			a.json(w, 400, map[string]string{"error": "invalid_redirect_uri", "error_description": "redirect URIs must use https"})
			return
		}
		a.registrations++
		a.json(w, 201, map[string]any{"client_id": "dyn-" + itoa(a.registrations)})
	case "/device":
		_ = r.ParseForm()
		a.clientIDs = append(a.clientIDs, r.PostForm.Get("client_id"))
		a.scopes = append(a.scopes, r.PostForm.Get("scope"))
		a.json(w, 200, map[string]any{"device_code": "dc", "user_code": "WXYZ-1234", "verification_uri": base + "/activate", "interval": 1, "expires_in": 60})
	case "/revoke":
		_ = r.ParseForm()
		a.revoked = append(a.revoked, r.PostForm.Get("token"))
	case "/token":
		_ = r.ParseForm()
		f := r.PostForm
		a.clientIDs = append(a.clientIDs, f.Get("client_id"))
		bound := r.Header.Get("DPoP") != ""
		if bound {
			a.proofs++
		}
		bound = bound && !a.bearerOnly
		resource := base + "/mcp"
		if a.resource != "" {
			resource = a.resource
		}
		if f.Get("resource") != resource {
			a.json(w, 400, map[string]string{"error": "invalid_target"})
			return
		}
		switch f.Get("grant_type") {
		case "urn:ietf:params:oauth:grant-type:device_code", "client_credentials":
			a.token(w, bound)
		case "refresh_token":
			rt := f.Get("refresh_token")
			if a.spent[rt] {
				a.json(w, 400, map[string]string{"error": "invalid_grant", "error_description": "refresh token reused"})
				return
			}
			if a.failRefresh {
				a.json(w, 400, map[string]string{"error": "invalid_grant", "error_description": "failed jkt verification"})
				return
			}
			a.spent[rt] = true
			a.token(w, bound)
		default:
			a.json(w, 400, map[string]string{"error": "unsupported_grant_type"})
		}
	default:
		http.NotFound(w, r)
	}
}

func manager(t *testing.T) *Manager {
	return New(Options{Store: tokenstore.New(t.TempDir()), Plugins: plugins(t)})
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func waitState(t *testing.T, m *Manager, srv Server, want string) Status {
	t.Helper()
	for range 200 {
		st := m.Status(ctx(t), srv)
		if st.State == want {
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("state never became %s: %+v", want, m.Status(ctx(t), srv))
	return Status{}
}

func (a *authServer) seen() (clientIDs []string, registrations int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.clientIDs...), a.registrations
}
