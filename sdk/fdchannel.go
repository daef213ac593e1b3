//go:build unix

package sdk

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// EnvFDChannel names the descriptor of the plugin's end of its descriptor
// channel, when the host gave it one.
const EnvFDChannel = "ICA_PLUGIN_FD_CHANNEL"

// FDChannel carries descriptors from a plugin process to its host: a Unix
// socket pair (SOCK_SEQPACKET), one end in each process, so nothing else
// can connect to it. Each message is a session's data token and, as
// SCM_RIGHTS, the descriptors of that session's data path. It is how a
// session's messages leave the gRPC stream (see DataPath in
// proto/ica/transport/v1).
type FDChannel struct {
	conn *net.UnixConn

	mu    sync.Mutex // one receiver at a time; guards stash
	stash map[string][]*os.File
}

// NewFDChannel returns the host's end of a new descriptor channel, and the
// plugin's end as a file to hand to the plugin process (then close it
// here), or to TransportPluginsOver in the same process.
func NewFDChannel() (*FDChannel, *os.File, error) {
	return newFDChannel(messageSocket)
}

// newFDChannel is NewFDChannel on a socket pair of type typ (a test runs
// the datagram pair macOS uses here too).
func newFDChannel(typ int) (*FDChannel, *os.File, error) {
	fds, err := socketpair(typ)
	if err != nil {
		return nil, nil, fmt.Errorf("descriptor channel: %w", err)
	}
	host, err := FDChannelFromFile(os.NewFile(uintptr(fds[0]), "fd-channel"))
	if err != nil {
		_ = syscall.Close(fds[1])
		return nil, nil, err
	}
	return host, os.NewFile(uintptr(fds[1]), "fd-channel-plugin"), nil
}

// FDChannelFromFile wraps one end of a descriptor channel. f is closed:
// the channel holds its own descriptor.
func FDChannelFromFile(f *os.File) (*FDChannel, error) {
	defer func() { _ = f.Close() }()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("descriptor channel: %w", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		_ = c.Close()
		return nil, errors.New("descriptor channel: not a Unix socket")
	}
	return &FDChannel{conn: uc, stash: make(map[string][]*os.File)}, nil
}

// fdChannelFromEnv is the plugin's end, if the host gave it one.
func fdChannelFromEnv() *FDChannel {
	v := os.Getenv(EnvFDChannel)
	if v == "" {
		return nil
	}
	_ = os.Unsetenv(EnvFDChannel) // not for the plugin's children
	var fd int
	if _, err := fmt.Sscan(v, &fd); err != nil || fd < 3 {
		return nil
	}
	syscall.CloseOnExec(fd)
	ch, err := FDChannelFromFile(os.NewFile(uintptr(fd), "fd-channel"))
	if err != nil {
		return nil
	}
	return ch
}

// Close closes this end.
func (c *FDChannel) Close() error {
	c.mu.Lock()
	for tok, files := range c.stash {
		closeFiles(files)
		delete(c.stash, tok)
	}
	c.mu.Unlock()
	return c.conn.Close()
}

// maxFDs bounds the descriptors one message may carry.
const maxFDs = 4

// send passes files to the other end under token. The files stay open
// here; the caller closes them once sent.
func (c *FDChannel) send(token string, files ...*os.File) error {
	if len(files) == 0 || len(files) > maxFDs {
		return fmt.Errorf("descriptor channel: %d descriptors", len(files))
	}
	fds := make([]int, 0, len(files))
	for _, f := range files {
		// SyscallConn, not Fd: Fd would put the descriptor in blocking
		// mode, and the receiver wants it for its poller.
		rc, err := f.SyscallConn()
		if err != nil {
			return err
		}
		if err := rc.Control(func(fd uintptr) { fds = append(fds, int(fd)) }); err != nil {
			return err
		}
	}
	_, _, err := c.conn.WriteMsgUnix([]byte(token), syscall.UnixRights(fds...), nil)
	if err != nil {
		return fmt.Errorf("descriptor channel: %w", err)
	}
	return nil
}

// receive returns the n descriptors sent under token, waiting for them
// until ctx ends. Messages for other tokens that come first are kept for
// their receivers.
func (c *FDChannel) receive(ctx context.Context, token string, n int) ([]*os.File, error) {
	for {
		c.mu.Lock()
		if files, ok := c.stash[token]; ok {
			delete(c.stash, token)
			c.mu.Unlock()
			if len(files) != n {
				closeFiles(files)
				return nil, fmt.Errorf("descriptor channel: %d descriptors, want %d", len(files), n)
			}
			return files, nil
		}
		// Read one message, for whoever it is, with a short deadline so
		// that ctx is looked at and other receivers get their turn.
		dl := time.Now().Add(50 * time.Millisecond)
		if d, ok := ctx.Deadline(); ok && d.Before(dl) {
			dl = d
		}
		_ = c.conn.SetReadDeadline(dl)
		tok, files, err := c.readOne()
		if err == nil {
			c.stash[tok] = append(c.stash[tok], files...)
		}
		c.mu.Unlock()
		var ne net.Error
		switch {
		case err == nil:
		case errors.As(err, &ne) && ne.Timeout():
			if ctx.Err() != nil {
				return nil, fmt.Errorf("descriptor channel: the plugin sent no descriptors: %w", ctx.Err())
			}
		default:
			return nil, fmt.Errorf("descriptor channel: %w", err)
		}
	}
}

// readOne reads one message; c.mu is held.
func (c *FDChannel) readOne() (string, []*os.File, error) {
	buf := make([]byte, 256)
	oob := make([]byte, syscall.CmsgSpace(maxFDs*4))
	n, oobn, flags, _, err := c.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return "", nil, err
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return "", nil, err
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := syscall.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			syscall.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), "upstream"))
		}
	}
	if flags&syscall.MSG_CTRUNC != 0 {
		closeFiles(files)
		return "", nil, errors.New("too many descriptors in one message")
	}
	return string(buf[:n]), files, nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// newFramesPair is a stream socket pair for DATA_PATH_FRAMES: the plugin's
// end as a connection, and the host's end as a file to send.
func newFramesPair() (net.Conn, *os.File, error) {
	fds, err := socketpair(syscall.SOCK_STREAM)
	if err != nil {
		return nil, nil, err
	}
	mine := os.NewFile(uintptr(fds[0]), "frames")
	defer func() { _ = mine.Close() }()
	c, err := net.FileConn(mine)
	if err != nil {
		_ = syscall.Close(fds[1])
		return nil, nil, err
	}
	theirs := os.NewFile(uintptr(fds[1]), "frames-host")
	// The host polls it: non-blocking, as net's own sockets are.
	if err := syscall.SetNonblock(fds[1], true); err != nil {
		_ = c.Close()
		_ = theirs.Close()
		return nil, nil, err
	}
	return c, theirs, nil
}
