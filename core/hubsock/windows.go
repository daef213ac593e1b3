//go:build windows

package hubsock

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/windows"
)

// CanPassFiles says a front can hand the hub its stdin and stdout: not
// here, where the front relays bytes.
const CanPassFiles = false

// Address is where the hub of version in home listens: a pipe named for
// the user and the home, as pipe names are one namespace for the whole
// machine.
func Address(home, version string) string {
	path, _, err := pipePath(home, version)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return path
}

// pipePath is the hub's pipe, and the user it is for.
func pipePath(home, version string) (string, *windows.SID, error) {
	sid, err := userSID()
	if err != nil {
		return "", nil, err
	}
	abs, err := filepath.Abs(home)
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256([]byte(sid.String() + "\x00" + strings.ToLower(abs)))
	// An elevated process has a hub of its own: a hub started from an
	// administrator's console must not start what an ordinary process of
	// the same user asks.
	level := ""
	if windows.GetCurrentProcessToken().IsElevated() {
		level = "-elevated"
	}
	return `\\.\pipe\ica-mcp-proxy-` + hex.EncodeToString(sum[:8]) + level + "-" + Name(version), sid, nil
}

// Listen listens on the pipe of the hub of version in home. Only the user
// may open it (its access list), and its first instance is made with
// FILE_FLAG_FIRST_PIPE_INSTANCE: a pipe of that name that exists already
// (a live hub's, or one someone else made first) is an error.
func Listen(home, version string) (*Listener, error) {
	if _, err := RunDir(home); err != nil {
		return nil, err
	}
	path, sid, err := pipePath(home, version)
	if err != nil {
		return nil, err
	}
	// Owned by the user (not the Administrators group an elevated
	// token would give it), protected (no inherited entries), all access
	// to the user alone.
	ln, err := listenPipe(path, "O:"+sid.String()+"D:P(A;;GA;;;"+sid.String()+")")
	if err != nil {
		return nil, fmt.Errorf("hub pipe %s (a hub already listens, or someone else made the pipe first): %w", path, err)
	}
	return &Listener{Listener: ln, check: func(c net.Conn) error {
		return peerIs(c, windows.GetNamedPipeClientProcessId, sid)
	}}, nil
}

// Dial connects to the hub of version of home, checking that the process
// serving the pipe runs as the user.
func Dial(home, version string) (net.Conn, error) {
	path, sid, err := pipePath(home, version)
	if err != nil {
		return nil, err
	}
	c, err := dialPipe(path, 2*time.Second)
	if err != nil {
		return nil, err
	}
	err = ownedBy(c, sid)
	if err == nil {
		err = peerIs(c, windows.GetNamedPipeServerProcessId, sid)
	}
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("the hub at %s: %w", path, err)
	}
	return c, nil
}

// ownedBy checks that the pipe c is owned by want, as the hub makes it:
// a pipe someone else made is theirs, whatever process serves it (the
// server's process id could be one reused since by the user's own).
func ownedBy(c *pipeConn, want *windows.SID) error {
	return c.handle(func(h windows.Handle) error {
		sd, err := windows.GetSecurityInfo(h, windows.SE_KERNEL_OBJECT, windows.OWNER_SECURITY_INFORMATION)
		if err != nil {
			return fmt.Errorf("the pipe's owner: %w", err)
		}
		owner, _, err := sd.Owner()
		if err != nil {
			return fmt.Errorf("the pipe's owner: %w", err)
		}
		if !owner.Equals(want) {
			return &PeerError{Peer: "the owner of the pipe, " + owner.String(), Want: want.String()}
		}
		return nil
	})
}

// peerIs checks that the process at the other end of the pipe c (pidOf
// names it) runs as want, elevated as this process is or not.
func peerIs(c net.Conn, pidOf func(windows.Handle, *uint32) error, want *windows.SID) error {
	pc, ok := c.(*pipeConn)
	if !ok {
		return fmt.Errorf("%w: not a pipe", ErrUnsupported)
	}
	var pid uint32
	if err := pc.handle(func(h windows.Handle) error { return pidOf(h, &pid) }); err != nil {
		return fmt.Errorf("the peer's process: %w", err)
	}
	sid, elevated, err := processUser(pid)
	if err != nil {
		return fmt.Errorf("the peer's user (process %d): %w", pid, err)
	}
	if !sid.Equals(want) {
		return &PeerError{Peer: sid.String(), Want: want.String()}
	}
	if self := windows.GetCurrentProcessToken().IsElevated(); elevated != self {
		return &PeerError{Peer: sid.String() + elevation(elevated), Want: want.String() + elevation(self)}
	}
	return nil
}

func elevation(elevated bool) string {
	if elevated {
		return " (elevated)"
	}
	return " (not elevated)"
}

// processUser is the user the process pid runs as, and whether its token
// is elevated.
func processUser(pid uint32) (*windows.SID, bool, error) {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return nil, false, err
	}
	defer func() { _ = windows.CloseHandle(h) }()
	var tok windows.Token
	if err := windows.OpenProcessToken(h, windows.TOKEN_QUERY, &tok); err != nil {
		return nil, false, err
	}
	defer func() { _ = tok.Close() }()
	u, err := tok.GetTokenUser()
	if err != nil {
		return nil, false, err
	}
	sid, err := u.User.Sid.Copy()
	return sid, tok.IsElevated(), err
}

// userSID is the user this process runs as.
func userSID() (*windows.SID, error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("this process's user: %w", err)
	}
	return u.User.Sid.Copy()
}

// privateDir leaves the run folder's access to its ACL, which
// safefile.MkdirPrivate set; no secret lives in it here (the pipe is not
// a file).
func privateDir(string, fs.FileInfo) error { return nil }

// SendFiles cannot pass files here: the front relays bytes.
func SendFiles(net.Conn, ...*os.File) error { return ErrUnsupported }

// ReceiveFiles cannot take files here.
func ReceiveFiles(net.Conn, int) ([]*os.File, error) { return nil, ErrUnsupported }
