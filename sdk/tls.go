package sdk

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
)

// The connection between the host and a plugin is mutual TLS with
// certificates the host makes for each plugin process: its own, given to
// the plugin as the only client to accept (PLUGIN_CLIENT_CERT, as
// go-plugin names it), and the plugin's, with its key, which the host
// trusts as the only server. go-plugin's automatic mTLS does the same
// with P-521 keys each side makes, which cost each process half a
// megabyte of precomputed tables and some 20 ms at every start; the
// host's Ed25519 certificates cost neither.
const (
	// EnvTLSCert and EnvTLSKey hold the plugin's certificate and private
	// key (PEM). Without them (a host of an earlier version), go-plugin's
	// automatic mTLS applies.
	EnvTLSCert = "ICA_PLUGIN_TLS_CERT"
	EnvTLSKey  = "ICA_PLUGIN_TLS_KEY"
	// envClientCert is go-plugin's variable for the host's certificate.
	envClientCert = "PLUGIN_CLIENT_CERT"
)

// serverTLS is the plugin's side of the host's mutual TLS, or nil when
// the host gave no certificate. The key leaves the environment at once,
// so no upstream process the plugin starts inherits it.
func serverTLS() (*tls.Config, error) {
	certPEM, keyPEM, clientPEM := os.Getenv(EnvTLSCert), os.Getenv(EnvTLSKey), os.Getenv(envClientCert)
	_ = os.Unsetenv(EnvTLSKey)
	_ = os.Unsetenv(EnvTLSCert)
	if certPEM == "" || keyPEM == "" || clientPEM == "" {
		return nil, nil
	}
	cert, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		return nil, err
	}
	host := x509.NewCertPool()
	if !host.AppendCertsFromPEM([]byte(clientPEM)) {
		return nil, errors.New(envClientCert + " holds no certificate")
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    host,
		MinVersion:   tls.VersionTLS13,
	}, nil
}
