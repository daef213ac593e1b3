package clientcreds_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

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

// private_key_jwt (RFC 7523): no secret is sent; the client signs an
// assertion with its key, which the token endpoint verifies with the
// client's public key: issued by and about the client, for the
// authorization server, short-lived, with a jti. The key and algorithm
// reach the plugin over the plugin protocol.
func TestPrivateKeyJWT(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f := r.PostForm
		w.Header().Set("Content-Type", "application/json")
		fail := func(why string) {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": why})
		}
		if _, _, basic := r.BasicAuth(); basic || f.Has("client_secret") {
			fail("a secret was sent")
			return
		}
		if f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			fail("client_assertion_type " + f.Get("client_assertion_type"))
			return
		}
		claims := jwt.RegisteredClaims{}
		_, err := jwt.ParseWithClaims(f.Get("client_assertion"), &claims, func(*jwt.Token) (any, error) { return &key.PublicKey, nil },
			jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience(issuer), jwt.WithIssuer("svc"), jwt.WithSubject("svc"), jwt.WithExpirationRequired())
		if err != nil || claims.ID == "" || time.Until(claims.ExpiresAt.Time) > 10*time.Minute {
			fail(fmt.Sprintf("assertion: %v (%+v)", err, claims))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at-jwt", "token_type": "Bearer", "expires_in": 3600})
	}))
	t.Cleanup(srv.Close)
	issuer = srv.URL
	client, _ := sdktest.Auth(t, clientcreds.New("t"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g := sdk.Grant{Flow: clientcreds.Flow, Server: "svc", Endpoints: sdk.Endpoints{Issuer: issuer, TokenURL: srv.URL + "/token"},
		Client: sdk.Client{ClientID: "svc", AuthMethod: "private_key_jwt", PrivateKey: pemKey}}
	st, err := client.Begin(ctx, g)
	if err != nil || st.Token == nil || st.Token.AccessToken != "at-jwt" {
		t.Fatalf("begin: %+v %v", st, err)
	}
	g.Client.SigningAlg = "ES384" // not the key's: refused by the server
	if _, err := client.Begin(ctx, g); err == nil {
		t.Fatal("an assertion signed with the wrong algorithm was accepted")
	}
	g.Client.SigningAlg, g.Client.PrivateKey = "", "not a key"
	if _, err := client.Begin(ctx, g); err == nil || !strings.Contains(err.Error(), "PEM") {
		t.Fatalf("a broken key: %v", err)
	}
}
