// Package dpop makes sender-constrained OAuth tokens work (DPoP, RFC
// 9449): a key per login, and an http.RoundTripper that signs a fresh
// proof for every request, at the token endpoint (to get a token bound
// to the key) and at the MCP server (to use it), and follows the
// servers' nonces. The core makes the key; the login plugins and the HTTP
// transport plugin send the proofs.
package dpop

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Alg is the proof's signature algorithm: ES256 on P-256, which every DPoP
// server must accept.
const Alg = "ES256"

// NewKey makes a login's key, PEM (PKCS #8).
func NewKey() (string, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

// Signer signs proofs with one key.
type Signer struct {
	key *ecdsa.PrivateKey
	jwk map[string]string

	mu     sync.Mutex
	nonces map[string]string // by host: the last DPoP-Nonce each server gave
}

// NewSigner reads a key made by NewKey.
func NewSigner(pemKey string) (*Signer, error) {
	k, err := jwt.ParseECPrivateKeyFromPEM([]byte(pemKey))
	if err != nil {
		return nil, fmt.Errorf("DPoP key: %w", err)
	}
	if k.Curve != elliptic.P256() {
		return nil, errors.New("DPoP key: not a P-256 key")
	}
	pub, err := k.PublicKey.ECDH()
	if err != nil {
		return nil, fmt.Errorf("DPoP key: %w", err)
	}
	raw := pub.Bytes() // 0x04 || X || Y
	b64 := base64.RawURLEncoding.EncodeToString
	return &Signer{key: k, nonces: map[string]string{},
		jwk: map[string]string{"kty": "EC", "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:65])}}, nil
}

// Proof is a proof for one request (RFC 9449 §4.2): its method and URL
// (without query and fragment), the hash of the access token it presents
// (if any), and the server's nonce (if it gave one).
func (s *Signer) Proof(method, url, accessToken, nonce string) (string, error) {
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	claims := jwt.MapClaims{"jti": hex.EncodeToString(jti), "htm": method, "htu": url, "iat": time.Now().Unix()}
	if accessToken != "" {
		h := sha256.Sum256([]byte(accessToken))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(h[:])
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	t.Header["typ"] = "dpop+jwt"
	t.Header["jwk"] = s.jwk
	return t.SignedString(s.key)
}

// Transport adds a proof to every request that goes through it, and
// retries a request once with the nonce a server asks for (RFC 9449 §8,
// §9). A request whose Authorization header presents a DPoP token proves
// possession of it (ath).
type Transport struct {
	Base   http.RoundTripper
	Signer *Signer
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	send := func(nonce string) (*http.Response, error) {
		r := req.Clone(req.Context())
		if req.Body != nil && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r.Body = body
		}
		token := ""
		if scheme, tok, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "DPoP") {
			token = tok
		}
		proof, err := t.Signer.Proof(req.Method, htu(req), token, nonce)
		if err != nil {
			return nil, err
		}
		r.Header.Set("DPoP", proof)
		return base.RoundTrip(r)
	}
	host := req.URL.Host
	t.Signer.mu.Lock()
	nonce := t.Signer.nonces[host]
	t.Signer.mu.Unlock()
	resp, err := send(nonce)
	if err != nil {
		return nil, err
	}
	fresh := resp.Header.Get("DPoP-Nonce")
	if fresh == "" {
		return resp, nil
	}
	t.Signer.mu.Lock()
	t.Signer.nonces[host] = fresh
	t.Signer.mu.Unlock()
	if fresh == nonce || !asksForNonce(resp) || (req.Body != nil && req.GetBody == nil) {
		return resp, nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return send(fresh)
}

// asksForNonce reports whether resp is a server's use_dpop_nonce error: a
// 401 whose challenge says so (an MCP server), or a 400 whose body does (a
// token endpoint). The body read to tell is put back.
func asksForNonce(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return strings.Contains(strings.Join(resp.Header.Values("WWW-Authenticate"), ", "), "use_dpop_nonce")
	case http.StatusBadRequest:
		head, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
		return bytes.Contains(head, []byte("use_dpop_nonce"))
	}
	return false
}

// htu is the request's URL as a proof names it: without query and
// fragment (RFC 9449 §4.2).
func htu(req *http.Request) string {
	u := *req.URL
	u.RawQuery, u.Fragment, u.RawFragment = "", "", ""
	return u.String()
}

// Client is client, or, with a key (PEM), a copy of client whose requests
// all go through a Transport signing with that key.
func Client(client *http.Client, pemKey string) (*http.Client, error) {
	if pemKey == "" {
		return client, nil
	}
	signer, err := NewSigner(pemKey)
	if err != nil {
		return nil, err
	}
	c := *client
	c.Transport = &Transport{Base: client.Transport, Signer: signer}
	return &c, nil
}
