package hubsock

import "golang.org/x/sys/unix"

// sockoptUID is the uid of the process at the other end of the socket
// fd (SO_PEERCRED).
func sockoptUID(fd int) (uint32, error) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return 0, err
	}
	return cred.Uid, nil
}
