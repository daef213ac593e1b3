package hubsock

import "golang.org/x/sys/unix"

// sockoptUID is the uid of the process at the other end of the socket
// fd (LOCAL_PEERCRED, as getpeereid reads it).
func sockoptUID(fd int) (uint32, error) {
	cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return 0, err
	}
	return cred.Uid, nil
}
