package oauthflow

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// PrivateKeyJWT is the token_endpoint_auth_method of a client that signs
// an assertion with its own key instead of sending a secret (RFC 7523 §2.2,
// OpenID Connect Core §9).
const PrivateKeyJWT = "private_key_jwt"

// assertionType is client_assertion_type for a JWT (RFC 7523 §2.2).
const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionLifetime is how long a client assertion is good for: one token
// request.
const assertionLifetime = 5 * time.Minute

// ClientAssertion adds to params the signed JWT with which a
// private_key_jwt client authenticates at the token endpoint: issued by
// and about the client, for the authorization server (its issuer, else
// its token endpoint), short-lived and never repeated (jti). For other
// clients it leaves params alone.
func ClientAssertion(params url.Values, g sdk.Grant) error {
	c := g.Client
	if c.AuthMethod != PrivateKeyJWT {
		return nil
	}
	if c.ClientID == "" || c.PrivateKey == "" {
		return errors.New("private_key_jwt needs the client_id and the client's private key")
	}
	key, alg, err := signingKey([]byte(c.PrivateKey), c.SigningAlg)
	if err != nil {
		return err
	}
	aud := g.Endpoints.Issuer
	if aud == "" {
		aud = g.Endpoints.TokenURL
	}
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	now := time.Now()
	claims := jwt.RegisteredClaims{
		Issuer: c.ClientID, Subject: c.ClientID, Audience: jwt.ClaimStrings{aud},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(assertionLifetime)),
		ID: hex.EncodeToString(jti),
	}
	signed, err := jwt.NewWithClaims(alg, claims).SignedString(key)
	if err != nil {
		return fmt.Errorf("signing the client assertion: %w", err)
	}
	params.Set("client_assertion_type", assertionType)
	params.Set("client_assertion", signed)
	return nil
}

// signingKey reads a PEM private key (PKCS #8, or the older EC and RSA
// forms) and picks the algorithm: the one named, else the key's usual one
// (ES256/384/512 by curve, RS256, EdDSA).
func signingKey(pemKey []byte, named string) (any, jwt.SigningMethod, error) {
	var key any
	if k, err := jwt.ParseECPrivateKeyFromPEM(pemKey); err == nil {
		key = k
	} else if k, err := jwt.ParseRSAPrivateKeyFromPEM(pemKey); err == nil {
		key = k
	} else if k, err := jwt.ParseEdPrivateKeyFromPEM(pemKey); err == nil {
		key = k
	} else {
		return nil, nil, errors.New("the client's private key is not a PEM EC, RSA or Ed25519 private key")
	}
	if named != "" {
		m := jwt.GetSigningMethod(named)
		if m == nil {
			return nil, nil, fmt.Errorf("signing algorithm %q is not one the proxy knows", named)
		}
		return key, m, nil
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P384():
			return k, jwt.SigningMethodES384, nil
		case elliptic.P521():
			return k, jwt.SigningMethodES512, nil
		}
		return k, jwt.SigningMethodES256, nil
	case *rsa.PrivateKey:
		return k, jwt.SigningMethodRS256, nil
	case ed25519.PrivateKey:
		return k, jwt.SigningMethodEdDSA, nil
	}
	return nil, nil, errors.New("the client's private key is of a kind the proxy cannot sign with")
}
