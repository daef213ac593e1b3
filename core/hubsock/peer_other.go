//go:build !linux && !darwin

package hubsock

import (
	"fmt"
	"net"
	"runtime"
)

// peerUID cannot be read here: every connection is refused, and the front
// serves in-process.
func peerUID(net.Conn) (uint32, error) {
	return 0, fmt.Errorf("%w: no peer credentials on %s", ErrUnsupported, runtime.GOOS)
}
