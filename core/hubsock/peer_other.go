//go:build unix && !linux && !darwin

package hubsock

import (
	"fmt"
	"runtime"
)

// sockoptUID cannot be read here: every connection is refused, and the
// front serves in-process.
func sockoptUID(int) (uint32, error) {
	return 0, fmt.Errorf("%w: no peer credentials on %s", ErrUnsupported, runtime.GOOS)
}
