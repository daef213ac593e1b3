//go:build !unix

package sdk

import (
	"context"
	"errors"
	"net"
	"os"
)

// EnvFDChannel names the descriptor of the plugin's end of its descriptor
// channel, when the host gave it one.
const EnvFDChannel = "ICA_PLUGIN_FD_CHANNEL"

// FDChannel carries descriptors from a plugin to its host; where they
// cannot be passed (Windows), there is none, and every session's messages
// travel on its gRPC stream.
type FDChannel struct{}

var errNoFDPassing = errors.New("descriptors cannot be passed on this system")

// NewFDChannel fails here: descriptors cannot be passed.
func NewFDChannel() (*FDChannel, *os.File, error) { return nil, nil, errNoFDPassing }

// FDChannelFromFile fails here: descriptors cannot be passed.
func FDChannelFromFile(f *os.File) (*FDChannel, error) { _ = f.Close(); return nil, errNoFDPassing }

func fdChannelFromEnv() *FDChannel { return nil }

// Close does nothing.
func (c *FDChannel) Close() error { return nil }

func (c *FDChannel) send(string, ...*os.File) error { return errNoFDPassing }

func (c *FDChannel) receive(context.Context, string, int) ([]*os.File, error) {
	return nil, errNoFDPassing
}

func newFramesPair() (net.Conn, *os.File, error) { return nil, nil, errNoFDPassing }
