package pluginhost

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// connTLS makes the certificates of one plugin process's connection (see
// sdk.EnvTLSCert): the host's TLS configuration, and the environment that
// gives the plugin its side. This is what go-plugin's AutoMTLS does, by
// hand, because AutoMTLS makes P-521 keys; a plugin built with an earlier
// sdk ignores the plugin's certificate and answers with its own, which
// go-plugin then trusts in its place.
func connTLS() (*tls.Config, []string, error) {
	host, hostPEM, _, err := selfSigned()
	if err != nil {
		return nil, nil, err
	}
	plug, plugPEM, plugKeyPEM, err := selfSigned()
	if err != nil {
		return nil, nil, err
	}
	trusted := x509.NewCertPool()
	trusted.AddCert(plug.Leaf)
	cfg := &tls.Config{
		Certificates: []tls.Certificate{host},
		RootCAs:      trusted,
		ServerName:   "localhost",
		MinVersion:   tls.VersionTLS13,
	}
	env := []string{
		"PLUGIN_CLIENT_CERT=" + string(hostPEM),
		sdk.EnvTLSCert + "=" + string(plugPEM),
		sdk.EnvTLSKey + "=" + string(plugKeyPEM),
	}
	return cfg, env, nil
}

// selfSigned makes an Ed25519 certificate for "localhost", its own issuer,
// good for both ends of a connection.
func selfSigned() (tls.Certificate, []byte, []byte, error) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, nil, fmt.Errorf("plugin certificate: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, nil, nil, fmt.Errorf("plugin certificate: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"ica-mcp-proxy"}},
		DNSNames:              []string{"localhost"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour), // a plugin may run as long as its host
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		return tls.Certificate{}, nil, nil, fmt.Errorf("plugin certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, nil, fmt.Errorf("plugin certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, nil, fmt.Errorf("plugin certificate: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, certPEM, keyPEM, nil
}
