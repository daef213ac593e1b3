package hubsock

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// A named pipe as a net.Listener and net.Conn, on x/sys/windows and the
// os package's own overlapped I/O (os.NewFile puts an overlapped handle on
// the runtime's completion port). Written here rather than taken from
// go-winio: its listener never sees a client under Wine 10, where the
// Windows build is tested.
//
// The pipe is of message type, read as bytes: a zero-length message, which
// CloseWrite sends, reads as the end of that direction, while the other
// goes on (a relayed session's input ends; its last answers still come).

// pipeBuffer is each direction's buffer in the pipe.
const pipeBuffer = 64 << 10

type pipeListener struct {
	path  string
	sa    *windows.SecurityAttributes
	close windows.Handle // an event, set by Close
	// ov is the pending connect's: on the heap, where the system may
	// write to it after the call that started the connect returned.
	ov *windows.Overlapped

	mu     sync.Mutex
	next   windows.Handle // the instance made ahead, or 0
	closed bool
}

// listenPipe makes the pipe's first instance, with the access list sddl.
func listenPipe(path, sddl string) (*pipeListener, error) {
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return nil, fmt.Errorf("the pipe's access list: %w", err)
	}
	l := &pipeListener{path: path, sa: &windows.SecurityAttributes{SecurityDescriptor: sd}, ov: new(windows.Overlapped)}
	l.sa.Length = uint32(unsafe.Sizeof(*l.sa))
	if l.next, err = l.instance(true); err != nil {
		return nil, err
	}
	if l.close, err = windows.CreateEvent(nil, 1, 0, nil); err != nil {
		_ = windows.CloseHandle(l.next)
		return nil, err
	}
	return l, nil
}

func (l *pipeListener) instance(first bool) (windows.Handle, error) {
	name, err := windows.UTF16PtrFromString(l.path)
	if err != nil {
		return 0, err
	}
	flags := uint32(windows.PIPE_ACCESS_DUPLEX | windows.FILE_FLAG_OVERLAPPED)
	if first {
		flags |= windows.FILE_FLAG_FIRST_PIPE_INSTANCE
	}
	mode := uint32(windows.PIPE_TYPE_MESSAGE | windows.PIPE_READMODE_BYTE | windows.PIPE_WAIT | windows.PIPE_REJECT_REMOTE_CLIENTS)
	return windows.CreateNamedPipe(name, flags, mode, windows.PIPE_UNLIMITED_INSTANCES, pipeBuffer, pipeBuffer, 0, l.sa)
}

// take is the instance made ahead, or a new one.
func (l *pipeListener) take() (windows.Handle, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, net.ErrClosed
	}
	h := l.next
	l.next = 0
	if h != 0 {
		return h, nil
	}
	h, err := l.instance(false)
	if err != nil {
		return 0, fmt.Errorf("a pipe instance: %w", err)
	}
	return h, nil
}

// Accept waits for a client on an instance of the pipe. One Accept runs
// at a time. Before it returns a client, the next instance is made: the
// pipe's name is never free while the hub listens, for someone else to
// take.
func (l *pipeListener) Accept() (net.Conn, error) {
	for {
		h, err := l.take()
		if err != nil {
			return nil, err
		}
		err = l.connect(h)
		if err == nil {
			l.mu.Lock()
			if !l.closed && l.next == 0 {
				l.next, _ = l.instance(false)
			}
			l.mu.Unlock()
			return newPipeConn(h, l.path), nil
		}
		_ = windows.CloseHandle(h)
		// A client that came and went before the connect (a front
		// killed as it started) is no reason to stop listening.
		if !errors.Is(err, windows.ERROR_NO_DATA) && !errors.Is(err, windows.ERROR_PIPE_NOT_CONNECTED) {
			return nil, err
		}
	}
}

// connect waits for a client to open h, or for Close.
func (l *pipeListener) connect(h windows.Handle) error {
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return err
	}
	defer func() { _ = windows.CloseHandle(ev) }()
	ov := l.ov
	*ov = windows.Overlapped{HEvent: ev}
	switch err := windows.ConnectNamedPipe(h, ov); {
	case err == nil, errors.Is(err, windows.ERROR_PIPE_CONNECTED):
		return nil
	case !errors.Is(err, windows.ERROR_IO_PENDING):
		return fmt.Errorf("waiting for a client: %w", err)
	}
	which, err := windows.WaitForMultipleObjects([]windows.Handle{ev, l.close}, false, windows.INFINITE)
	if err != nil || which != windows.WAIT_OBJECT_0 {
		_ = windows.CancelIoEx(h, ov)
		var n uint32
		_ = windows.GetOverlappedResult(h, ov, &n, true)
		if err != nil {
			return err
		}
		return net.ErrClosed
	}
	var n uint32
	return windows.GetOverlappedResult(h, ov, &n, false)
}

func (l *pipeListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.next != 0 {
		_ = windows.CloseHandle(l.next)
		l.next = 0
	}
	return windows.SetEvent(l.close)
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr(l.path) }

// dialPipe opens the pipe at path, waiting up to timeout while all its
// instances are busy. The server may identify the client, never act as
// it (SECURITY_IDENTIFICATION): a pipe someone else made must not gain
// the user's rights.
func dialPipe(path string, timeout time.Duration) (*pipeConn, error) {
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	for {
		h, err := windows.CreateFile(name, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, nil, windows.OPEN_EXISTING,
			windows.FILE_FLAG_OVERLAPPED|windows.SECURITY_SQOS_PRESENT|windows.SECURITY_IDENTIFICATION, 0)
		if err == nil {
			return newPipeConn(h, path), nil
		}
		if !errors.Is(err, windows.ERROR_PIPE_BUSY) || time.Now().After(deadline) {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pipeConn is one end of a pipe.
type pipeConn struct {
	*os.File
	// ov is CloseWrite's, on the heap (see pipeListener.ov).
	ov *windows.Overlapped
}

func newPipeConn(h windows.Handle, path string) *pipeConn {
	return &pipeConn{File: os.NewFile(uintptr(h), path), ov: new(windows.Overlapped)}
}

func (c *pipeConn) LocalAddr() net.Addr  { return pipeAddr(c.Name()) }
func (c *pipeConn) RemoteAddr() net.Addr { return pipeAddr(c.Name()) }

// handle is the pipe's handle, for a call on it that cannot outlive the
// file (Close waits for it).
func (c *pipeConn) handle(f func(windows.Handle) error) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(windows.Handle(fd)) }); err != nil {
		return err
	}
	return ferr
}

// CloseWrite sends the zero-length message that ends this direction.
func (c *pipeConn) CloseWrite() error {
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return err
	}
	defer func() { _ = windows.CloseHandle(ev) }()
	return c.handle(func(h windows.Handle) error {
		// The event's low bit keeps the completion off the runtime's
		// port, which knows nothing of this write.
		*c.ov = windows.Overlapped{HEvent: ev | 1}
		var n uint32
		err := windows.WriteFile(h, nil, &n, c.ov)
		if errors.Is(err, windows.ERROR_IO_PENDING) {
			err = windows.GetOverlappedResult(h, c.ov, &n, true)
		}
		return err
	})
}

type pipeAddr string

func (pipeAddr) Network() string  { return "pipe" }
func (a pipeAddr) String() string { return string(a) }
