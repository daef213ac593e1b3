package sdk

import "syscall"

// messageSocket is the descriptor channel's socket type: one that keeps
// each message whole.
const messageSocket = syscall.SOCK_SEQPACKET

// socketpair makes a connected pair of Unix sockets of type typ, closed on
// exec from the start.
func socketpair(typ int) ([2]int, error) {
	return syscall.Socketpair(syscall.AF_UNIX, typ|syscall.SOCK_CLOEXEC, 0)
}
