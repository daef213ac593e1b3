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
	l := &pipeListener{path: path, sa: &windows.SecurityAttributes{SecurityDescriptor: sd}}
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

// Accept waits for a client on an instance of the pipe. One Accept runs
// at a time.
func (l *pipeListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, net.ErrClosed
	}
	h := l.next
	l.next = 0
	l.mu.Unlock()
	if h == 0 {
		var err error
		if h, err = l.instance(false); err != nil {
			return nil, fmt.Errorf("a pipe instance: %w", err)
		}
	}
	if err := l.connect(h); err != nil {
		_ = windows.CloseHandle(h)
		return nil, err
	}
	return newPipeConn(h, l.path), nil
}

// connect waits for a client to open h, or for Close.
func (l *pipeListener) connect(h windows.Handle) error {
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return err
	}
	defer func() { _ = windows.CloseHandle(ev) }()
	// On the heap: the system writes to it after this call returns.
	ov := &windows.Overlapped{HEvent: ev}
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
func dialPipe(path string, timeout time.Duration) (net.Conn, error) {
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
	h windows.Handle
}

func newPipeConn(h windows.Handle, path string) *pipeConn {
	return &pipeConn{File: os.NewFile(uintptr(h), path), h: h}
}

func (c *pipeConn) LocalAddr() net.Addr  { return pipeAddr(c.Name()) }
func (c *pipeConn) RemoteAddr() net.Addr { return pipeAddr(c.Name()) }

// CloseWrite sends the zero-length message that ends this direction.
func (c *pipeConn) CloseWrite() error {
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return err
	}
	defer func() { _ = windows.CloseHandle(ev) }()
	// The event's low bit keeps the completion off the runtime's port,
	// which knows nothing of this write.
	ov := &windows.Overlapped{HEvent: ev | 1}
	var n uint32
	err = windows.WriteFile(c.h, nil, &n, ov)
	if errors.Is(err, windows.ERROR_IO_PENDING) {
		err = windows.GetOverlappedResult(c.h, ov, &n, true)
	}
	return err
}

type pipeAddr string

func (pipeAddr) Network() string  { return "pipe" }
func (a pipeAddr) String() string { return string(a) }
