//go:build unix

package sdk

import (
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/hashicorp/go-hclog"
)

// ignoreBrokenPipes keeps the plugin alive when its stderr, a pipe to the
// host, breaks: a host killed outright leaves the plugin to end its
// upstreams, and Go ends a program at once with SIGPIPE when it writes to
// a broken stdout or stderr. The shutdown's first log line (or an
// upstream's stderr, which the plugin logs) would kill the plugin before
// it signals the upstreams' process groups, and a grandchild would
// outlive everything. With SIGPIPE ignored the write fails, and nothing
// else does.
func ignoreBrokenPipes() { signal.Ignore(syscall.SIGPIPE) }

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
