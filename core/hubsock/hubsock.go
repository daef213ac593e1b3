// Package hubsock is where a user's hub listens and who may reach it.
//
// On unix, a socket in $ICA_HOME/run (a folder only the user can enter)
// whose every connection's peer must be the user (SO_PEERCRED,
// getpeereid). Over it a front can hand the hub its stdin and stdout
// (SCM_RIGHTS), so that the session's bytes go to the hub with no
// process between.
//
// On Windows, a named pipe whose access list admits only the user, named
// for the user and the $ICA_HOME; each end checks that the process at
// the other is the user's (its token's SID), so that a pipe another user
// made first under the name is never spoken to. Files cannot be passed
// (CanPassFiles): the front relays the session's bytes.
package hubsock

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/safefile"
)

// Name is what a hub of version is called in RunDir: its socket is
// Name+".sock". Each build has its own, so that after an upgrade new
// fronts start a hub of their version while the old one drains.
func Name(version string) string {
	sum := sha256.Sum256([]byte(version))
	return "hub-" + hex.EncodeToString(sum[:4])
}

// ErrUnsupported is a system without the hub's socket.
var ErrUnsupported = errors.New("no hub socket on this system yet")

// RunDir is the folder of the hub's socket and lock in home, made
// private (0700) when missing. One that others can enter or write is
// refused: whoever can replace the socket can impersonate the hub.
func RunDir(home string) (string, error) {
	dir := filepath.Join(home, "run")
	if err := safefile.MkdirPrivate(dir); err != nil {
		return "", fmt.Errorf("hub folder: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("hub folder: %w", err)
	}
	if err := privateDir(dir, fi); err != nil {
		return "", err
	}
	return dir, nil
}

// PeerError is a connection refused because its peer is another user.
type PeerError struct {
	// Peer and Want are the users, as the system names them: "uid 501",
	// or a SID.
	Peer, Want string
}

func (e *PeerError) Error() string {
	return fmt.Sprintf("the peer runs as %s, not as the hub's user (%s)", e.Peer, e.Want)
}

// Listener accepts the connections of the user's own processes only.
type Listener struct {
	net.Listener
	// check refuses a connection whose peer is not the user.
	check func(net.Conn) error
	// Refused, when set, is told of each connection refused.
	Refused func(err error)
}

// Accept returns the next connection whose peer is the user; others are
// closed, and told to Refused.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if err = l.check(c); err == nil {
			return c, nil
		}
		_ = c.Close()
		if l.Refused != nil {
			l.Refused(err)
		}
	}
}
