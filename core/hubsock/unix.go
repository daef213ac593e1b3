//go:build unix

package hubsock

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Listen listens on the socket of the hub of version in home. A socket file no one
// listens on (a hub that died) is replaced; one a live hub listens on is
// an error: the caller lost the race to be the hub.
func Listen(home, version string) (*Listener, error) {
	dir, err := RunDir(home)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, Name(version)+".sock")
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			_ = c.Close()
			return nil, fmt.Errorf("a hub already listens on %s", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing the dead hub's socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("hub socket: %w", err)
	}
	return &Listener{Listener: ln, check: uidIs(uint32(os.Getuid()))}, nil
}

// Dial connects to the hub of version of home, checking that the hub
// runs as the user too.
func Dial(home, version string) (net.Conn, error) {
	path := filepath.Join(home, "run", Name(version)+".sock")
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return nil, err
	}
	if err := uidIs(uint32(os.Getuid()))(c); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("the hub at %s: %w", path, err)
	}
	return c, nil
}

// CanPassFiles says a front can hand the hub its stdin and stdout.
const CanPassFiles = true

// Address is where the hub of version in home listens, for messages.
func Address(home, version string) string {
	return filepath.Join(home, "run", Name(version)+".sock")
}

// uidIs is a check that the process at the other end of a connection
// runs as want.
func uidIs(want uint32) func(net.Conn) error {
	return func(c net.Conn) error {
		uid, err := peerUID(c)
		if err == nil && uid != want {
			err = &PeerError{Peer: fmt.Sprintf("uid %d", uid), Want: fmt.Sprintf("uid %d", want)}
		}
		return err
	}
}

// peerUID is the uid of the process at the other end of c.
func peerUID(c net.Conn) (uint32, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, fmt.Errorf("not a unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var uid uint32
	var uidErr error
	if err := raw.Control(func(fd uintptr) { uid, uidErr = sockoptUID(int(fd)) }); err != nil {
		return 0, err
	}
	if uidErr != nil {
		return 0, fmt.Errorf("the peer's credentials: %w", uidErr)
	}
	return uid, nil
}

// privateDir refuses a folder others may enter or write, or that is not
// the user's.
func privateDir(dir string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || (ok && st.Uid != uint32(os.Getuid())) || fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("hub folder %s: it must be a folder of yours that no one else can enter (mode %04o); run: chmod 700 %s", dir, fi.Mode().Perm(), dir)
	}
	return nil
}

// SendFiles hands files to the other end (SCM_RIGHTS), with one byte of
// data, as the protocol needs some.
func SendFiles(c net.Conn, files ...*os.File) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ErrUnsupported
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	_, _, err := uc.WriteMsgUnix([]byte{0}, unix.UnixRights(fds...), nil)
	return err
}

// ReceiveFiles takes n files the other end sent with SendFiles.
func ReceiveFiles(c net.Conn, n int) ([]*os.File, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return nil, ErrUnsupported
	}
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(n*4))
	_, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, err
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "passed"))
		}
	}
	if len(files) != n {
		for _, f := range files {
			_ = f.Close()
		}
		return nil, fmt.Errorf("the other end sent %d files, not %d", len(files), n)
	}
	return files, nil
}
