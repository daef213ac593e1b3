//go:build !unix && !windows

package hubsock

import (
	"io/fs"
	"net"
	"os"
)

// CanPassFiles says a front can hand the hub its stdin and stdout.
const CanPassFiles = false

// Address is where the hub would listen.
func Address(string, string) string { return "(none on this system)" }

// Listen is not here on this system.
func Listen(string, string) (*Listener, error) { return nil, ErrUnsupported }

// Dial is not here on this system.
func Dial(string, string) (net.Conn, error) { return nil, ErrUnsupported }

func privateDir(string, fs.FileInfo) error { return nil }

// SendFiles cannot pass files here: the front relays bytes.
func SendFiles(net.Conn, ...*os.File) error { return ErrUnsupported }

// ReceiveFiles cannot take files here.
func ReceiveFiles(net.Conn, int) ([]*os.File, error) { return nil, ErrUnsupported }
