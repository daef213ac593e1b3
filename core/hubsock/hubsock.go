// Package hubsock is where a user's hub listens and who may reach it: a
// unix socket in $ICA_HOME/run (a folder only the user can enter) whose
// every connection's peer must be the user (SO_PEERCRED, getpeereid).
// Over it a front can hand the hub its stdin and stdout (SCM_RIGHTS), so
// that the session's bytes go to the hub with no process between.
//
// Windows (a named pipe whose access list admits only the user) is not
// here yet: Listen and Dial say so, and the front serves in-process.
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
	UID, Want uint32
}

func (e *PeerError) Error() string {
	return fmt.Sprintf("the peer runs as uid %d, not the hub's user (uid %d)", e.UID, e.Want)
}

// Listener accepts the connections of the user's own processes only.
type Listener struct {
	net.Listener
	// want is the uid every peer must have: the process's own.
	want uint32
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
		uid, err := peerUID(c)
		if err == nil && uid != l.want {
			err = &PeerError{UID: uid, Want: l.want}
		}
		if err == nil {
			return c, nil
		}
		_ = c.Close()
		if l.Refused != nil {
			l.Refused(err)
		}
	}
}
