//go:build !unix

package hubsock

import (
	"io/fs"
	"net"
	"os"
)

// Listen is not here yet on this system (a named pipe for Windows).
func Listen(string, string) (*Listener, error) { return nil, ErrUnsupported }

// Dial is not here yet on this system.
func Dial(string, string) (net.Conn, error) { return nil, ErrUnsupported }

func privateDir(string, fs.FileInfo) error { return nil }

func peerUID(net.Conn) (uint32, error) { return 0, ErrUnsupported }

// SendFiles cannot pass files here: the front relays bytes.
func SendFiles(net.Conn, ...*os.File) error { return ErrUnsupported }

// ReceiveFiles cannot take files here.
func ReceiveFiles(net.Conn, int) ([]*os.File, error) { return nil, ErrUnsupported }
