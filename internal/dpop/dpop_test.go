package dpop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// verify checks a proof as a server does (RFC 9449 §4.3) against the key
// in its own header, and returns its claims.
func verify(t *testing.T, proof string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(proof, claims, func(tok *jwt.Token) (any, error) {
		jwk, _ := tok.Header["jwk"].(map[string]any)
		if tok.Header["typ"] != "dpop+jwt" || jwk["kty"] != "EC" || jwk["d"] != nil {
			t.Fatalf("proof header %v", tok.Header)
		}
		x, _ := base64.RawURLEncoding.DecodeString(jwk["x"].(string))
		y, _ := base64.RawURLEncoding.DecodeString(jwk["y"].(string))
		point := append(append([]byte{4}, make([]byte, 32-len(x))...), x...)
		point = append(append(point, make([]byte, 32-len(y))...), y...)
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuedAt())
	if err != nil || !tok.Valid {
		t.Fatalf("proof does not verify: %v", err)
	}
	return claims
}

// Every request gets a fresh proof for its method and URL; a request that
// presents a DPoP token proves it (ath); a server's nonce, asked for with
// a 401 (MCP server) or a 400 (token endpoint), is sent on a single retry
// and kept for the next requests.
func TestTransport(t *testing.T) {
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	var jtis []string
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := verify(t, r.Header.Get("DPoP"))
		jtis = append(jtis, c["jti"].(string))
		b := make([]byte, 64)
		n, _ := r.Body.Read(b)
		bodies = append(bodies, string(b[:n]))
		if c["htm"] != r.Method || c["htu"] != "http://"+r.Host+r.URL.Path {
			t.Errorf("proof for %v %v, request %s %s", c["htm"], c["htu"], r.Method, r.URL)
		}
		if _, tok, ok := strings.Cut(r.Header.Get("Authorization"), "DPoP "); ok {
			h := sha256.Sum256([]byte(tok))
			if c["ath"] != base64.RawURLEncoding.EncodeToString(h[:]) {
				t.Errorf("ath %v for token %q", c["ath"], tok)
			}
		}
		if c["nonce"] != "n-1" {
			w.Header().Set("DPoP-Nonce", "n-1")
			if r.URL.Path == "/token" {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"error":"use_dpop_nonce"}`))
				return
			}
			w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	c := &http.Client{Transport: &Transport{Signer: signer}}

	resp, err := c.Post(srv.URL+"/token?x=1", "application/x-www-form-urlencoded", strings.NewReader("grant_type=authorization_code"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("token request: %v %v", resp, err)
	}
	_ = resp.Body.Close()
	if len(jtis) != 2 || bodies[1] != "grant_type=authorization_code" {
		t.Fatalf("the nonce retry: %d requests, bodies %q", len(jtis), bodies)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/mcp", strings.NewReader("{}"))
	req.Header.Set("Authorization", "DPoP at-1")
	resp, err = c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("MCP request: %v %v", resp, err)
	}
	_ = resp.Body.Close()
	if len(jtis) != 3 {
		t.Fatalf("%d requests: the kept nonce should have made a retry needless", len(jtis))
	}
	seen := map[string]bool{}
	for _, j := range jtis {
		if seen[j] {
			t.Fatalf("a proof was reused: %q", jtis)
		}
		seen[j] = true
	}
}
