//go:build unix && !linux

package sdk

import "syscall"

// messageSocket is the descriptor channel's socket type: one that keeps
// each message whole. macOS has no SOCK_SEQPACKET for Unix sockets; a
// datagram pair keeps messages whole too, and carries SCM_RIGHTS alike.
// The channel never waits for end of file (receive is bounded by its
// context), which a datagram socket would not report.
const messageSocket = syscall.SOCK_DGRAM

// socketpair makes a connected pair of Unix sockets of type typ, closed on
// exec. Without SOCK_CLOEXEC the flag is set after the call, under
// ForkLock so that no process started meanwhile inherits them.
func socketpair(typ int) ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, typ, 0)
	if err != nil {
		return fds, err
	}
	syscall.CloseOnExec(fds[0])
	syscall.CloseOnExec(fds[1])
	return fds, nil
}
