//go:build unix

package sdk

import (
	"io"
	"os"
	"strconv"
	"syscall"

	"github.com/hashicorp/go-hclog"
)

// watchParentPipe runs shutdown when the pipe the host handed down
// (EnvParentFD) reaches end of file: the host is gone, whatever ended it.
func watchParentPipe(logger hclog.Logger, shutdown func(why string)) {
	v := os.Getenv(EnvParentFD)
	if v == "" {
		return
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		logger.Warn("ignoring invalid parent fd", "value", v)
		return
	}
	if f := os.NewFile(uintptr(fd), "host-pipe"); f != nil {
		// Children of the plugin (upstream servers) must not inherit it.
		syscall.CloseOnExec(fd)
		go func() {
			_, _ = io.Copy(io.Discard, f)
			shutdown("host is gone")
		}()
	}
}
