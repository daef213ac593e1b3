package clientcreds_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/auth-client-credentials/clientcreds"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk/sdktest"
)

// A token endpoint that checks the request as RFC 6749 §4.4 and RFC 8707
// describe it.
func tokenEndpoint(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		id, secret, basic := r.BasicAuth()
		if !basic {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		w.Header().Set("Content-Type", "application/json")
		if id != "svc" || secret != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": "bad credentials"})
			return
		}
		if r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("resource") != "https://mcp.example/mcp" ||
			r.PostForm.Get("scope") != "read write" || r.PostForm.Get("audience") != "mcp" {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": r.PostForm.Encode()})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at-1", "token_type": "Bearer", "expires_in": 3600, "scope": "read"})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func grant(tokenURL string) sdk.Grant {
	return sdk.Grant{
		Flow: clientcreds.Flow, Server: "svc",
		Endpoints: sdk.Endpoints{TokenURL: tokenURL},
		Client:    sdk.Client{ClientID: "svc", ClientSecret: "s3cret"},
		Scopes:    []string{"read", "write"}, Resource: "https://mcp.example/mcp",
		ExtraTokenParams: map[string]string{"audience": "mcp"},
	}
}

func TestMintsAtOnce(t *testing.T) {
	srv := tokenEndpoint(t)
	client, info := sdktest.Auth(t, clientcreds.New("t"))
	if info.Kind != sdk.KindAuth || info.Names[0] != "client_credentials" {
		t.Fatalf("info %+v", info)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := client.Begin(ctx, grant(srv.URL+"/token"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Token == nil || st.Token.AccessToken != "at-1" || st.Token.TokenType != "Bearer" ||
		time.Until(st.Token.Expiry) < 59*time.Minute || strings.Join(st.Token.Scopes, " ") != "read" {
		t.Fatalf("token %#v", st.Token)
	}
	// Refresh mints again.
	tok, err := client.Refresh(ctx, grant(srv.URL+"/token"), "")
	if err != nil || tok.AccessToken != "at-1" {
		t.Fatalf("refresh: %v %v", tok, err)
	}
}

func TestRefusals(t *testing.T) {
	srv := tokenEndpoint(t)
	redirect := httptest.NewServer(http.RedirectHandler(srv.URL+"/token", http.StatusTemporaryRedirect))
	defer redirect.Close()
	client, _ := sdktest.Auth(t, clientcreds.New("t"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	bad := grant(srv.URL + "/token")
	bad.Client.ClientSecret = "wrong"
	if _, err := client.Begin(ctx, bad); err == nil || !strings.Contains(err.Error(), "invalid_client: bad credentials") {
		t.Fatalf("wrong secret: %v", err)
	}
	for url, want := range map[string]string{
		"http://as.example/token": "must use https",
		"javascript:alert(1)":     "has no host",
		"":                        "no token endpoint",
		redirect.URL + "/token":   "redirect",
	} {
		if _, err := client.Begin(ctx, grant(url)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("token URL %q: %v, want %q", url, err, want)
		}
	}
}
