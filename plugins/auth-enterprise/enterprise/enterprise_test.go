package enterprise_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/auth-enterprise/enterprise"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk/sdktest"
)

// An identity provider that exchanges the ID token "id-tok" for an ID-JAG
// (RFC 8693), and an authorization server that takes that ID-JAG as a JWT
// bearer grant from the client mcp-client:s3cret (RFC 7523), each checking
// the parameters SEP-990 names.
func servers(t *testing.T) (idp, as *httptest.Server) {
	reply := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	as = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f := r.PostForm
		id, secret, _ := r.BasicAuth()
		switch {
		case id != "mcp-client" || secret != "s3cret":
			reply(w, 401, map[string]string{"error": "invalid_client"})
		case f.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || f.Get("assertion") != "jag-for-"+as.URL:
			reply(w, 400, map[string]string{"error": "invalid_grant", "error_description": f.Encode()})
		case f.Get("resource") != "https://mcp.example/mcp":
			reply(w, 400, map[string]string{"error": "invalid_target"})
		default:
			reply(w, 200, map[string]any{"access_token": "at-ent", "token_type": "Bearer", "expires_in": 600})
		}
	}))
	idp = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f := r.PostForm
		switch {
		case f.Get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange" || f.Get("client_id") != "idp-client":
			reply(w, 400, map[string]string{"error": "unsupported_grant_type"})
		case f.Get("subject_token") != "id-tok" || f.Get("subject_token_type") != "urn:ietf:params:oauth:token-type:id_token" ||
			f.Get("requested_token_type") != "urn:ietf:params:oauth:token-type:id-jag" ||
			f.Get("audience") != as.URL || f.Get("resource") != "https://mcp.example/mcp":
			reply(w, 400, map[string]string{"error": "invalid_request", "error_description": f.Encode()})
		default:
			reply(w, 200, map[string]any{"access_token": "jag-for-" + f.Get("audience"), "issued_token_type": "urn:ietf:params:oauth:token-type:id-jag", "token_type": "N_A"})
		}
	}))
	t.Cleanup(idp.Close)
	t.Cleanup(as.Close)
	return idp, as
}

func grant(idp, as string, opts map[string]any) sdk.Grant {
	opts["idp_token_url"], opts["idp_client_id"] = idp+"/token", "idp-client"
	raw, _ := json.Marshal(opts)
	return sdk.Grant{
		Flow: enterprise.Flow, Server: "docs",
		Endpoints: sdk.Endpoints{Issuer: as, TokenURL: as + "/token"},
		Client:    sdk.Client{ClientID: "mcp-client", ClientSecret: "s3cret"},
		Resource:  "https://mcp.example/mcp", Options: raw,
	}
}

// The whole grant, over the plugin protocol, with the ID token given as
// it is, in a file, or printed by a command; a refresh mints again.
func TestIdentityAssertionGrant(t *testing.T) {
	idp, as := servers(t)
	client, info := sdktest.Auth(t, enterprise.New("t"))
	if info.Names[0] != "identity_assertion" {
		t.Fatalf("info %+v", info)
	}
	file := filepath.Join(t.TempDir(), "id-token")
	if err := os.WriteFile(file, []byte("id-tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for name, opts := range map[string]map[string]any{
		"as it is": {"id_token": "id-tok"},
		"file":     {"id_token_file": file},
		"command":  {"id_token_command": []string{"cat", file}},
	} {
		g := grant(idp.URL, as.URL, opts)
		st, err := client.Begin(ctx, g)
		if err != nil || st.Token == nil || st.Token.AccessToken != "at-ent" {
			t.Fatalf("%s: %+v %v", name, st, err)
		}
		if tok, err := client.Refresh(ctx, g, ""); err != nil || tok.AccessToken != "at-ent" {
			t.Fatalf("%s: refresh %+v %v", name, tok, err)
		}
	}
	for want, opts := range map[string]map[string]any{
		"needs the user's ID token": {},
		"invalid_request":           {"id_token": "another"},
		"id_token_command":          {"id_token_command": []string{filepath.Join(t.TempDir(), "missing")}},
	} {
		if _, err := client.Begin(ctx, grant(idp.URL, as.URL, opts)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Begin with %v: %v, want an error saying %q", opts, err, want)
		}
	}
}

// Workload identity: the workload's JWT is the grant, sent once with the
// client's id; a refusal is reported as the server worded it.
func TestWorkloadIdentity(t *testing.T) {
	var grants []string
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f := r.PostForm
		grants = append(grants, f.Get("grant_type"))
		w.Header().Set("Content-Type", "application/json")
		if f.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || f.Get("client_id") != "workload" || f.Get("assertion") != "wl-jwt" {
			w.WriteHeader(400)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": "assertion refused"})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at-wl", "token_type": "Bearer"})
	}))
	t.Cleanup(as.Close)
	client, _ := sdktest.Auth(t, enterprise.New("t"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	g := sdk.Grant{Flow: enterprise.WorkloadFlow, Server: "svc", Endpoints: sdk.Endpoints{Issuer: as.URL, TokenURL: as.URL + "/token"},
		Client: sdk.Client{ClientID: "workload"}, Options: json.RawMessage(`{"assertion": "wl-jwt"}`)}
	if st, err := client.Begin(ctx, g); err != nil || st.Token == nil || st.Token.AccessToken != "at-wl" {
		t.Fatalf("begin: %+v %v", st, err)
	}
	g.Options = json.RawMessage(`{"assertion": "expired"}`)
	grants = nil
	if _, err := client.Begin(ctx, g); err == nil || !strings.Contains(err.Error(), "assertion refused") {
		t.Fatalf("a refused assertion: %v", err)
	}
	if len(grants) != 1 {
		t.Fatalf("after a refusal the plugin sent %q, want the one JWT bearer request and no retry", grants)
	}
}
