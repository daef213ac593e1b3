package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listeningSocket is the path of the unix socket process pid listens on.
func listeningSocket(t *testing.T, pid int) string {
	t.Helper()
	inodes := map[string]bool{}
	fds, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "fd", fd.Name()))
		if inode, ok := strings.CutPrefix(target, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	data, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		t.Fatal(err)
	}
	// Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 is
	// a listening socket.
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) == 8 && f[3] == "00010000" && inodes[f[6]] {
			return f[7]
		}
	}
	t.Fatalf("process %d listens on no unix socket", pid)
	return ""
}

// The connection to a plugin is mutual TLS with the host's Ed25519
// certificates: the plugin presents the certificate the host made for it,
// and refuses a client without the host's certificate, or with another.
func TestPluginConnectionIsMutualTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeProject(t, map[string]any{"demo": demoServer()})
	c := startProxy(t, e)
	if got := decodeResult(t, c.callTool("demo.echo", map[string]any{"message": "hi"})).text(); got != "hi" {
		t.Fatalf("demo.echo: %q", got)
	}
	socket := listeningSocket(t, pluginPID(t, c.cmd.Process.Pid, "ica-plugin-tran"))

	try := func(certs []tls.Certificate) (*x509.Certificate, error) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "unix", socket, &tls.Config{
			InsecureSkipVerify: true, NextProtos: []string{"h2"},
			// Sent whatever the plugin says it accepts.
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				if len(certs) == 0 {
					return &tls.Certificate{}, nil
				}
				return &certs[0], nil
			},
		})
		if err != nil {
			return nil, err
		}
		defer func() { _ = conn.Close() }()
		peer := conn.ConnectionState().PeerCertificates[0]
		// In TLS 1.3 the server judges the client's certificate after the
		// client's handshake is done: its verdict comes with the first read.
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = conn.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
		_, err = conn.Read(make([]byte, 64))
		return peer, err
	}
	peer, err := try(nil)
	if peer != nil && peer.PublicKeyAlgorithm != x509.Ed25519 {
		t.Fatalf("the plugin presents a %s certificate, not the host's Ed25519 one", peer.PublicKeyAlgorithm)
	}
	if err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Fatalf("a client without a certificate: %v", err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if _, err := try([]tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}); err == nil || !strings.Contains(err.Error(), "bad certificate") && !strings.Contains(err.Error(), "unknown certificate authority") {
		t.Fatalf("a client with another certificate: %v", err)
	}
	// The proxy's own connection still works.
	if got := decodeResult(t, c.callTool("demo.echo", map[string]any{"message": "still"})).text(); got != "still" {
		t.Fatalf("demo.echo after the intruders: %q", got)
	}
}
