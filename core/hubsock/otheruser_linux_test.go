package hubsock

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// envDialAs makes the test binary a dialer of the socket it names (run
// as another user by TestAnotherUserIsRefused).
const envDialAs = "HUBSOCK_TEST_DIAL"

func TestMain(m *testing.M) {
	if path := os.Getenv(envDialAs); path != "" {
		c, err := net.Dial("unix", path)
		if err != nil {
			os.Exit(3) // cannot reach it at all
		}
		if _, err := c.Read(make([]byte, 1)); errors.Is(err, io.EOF) {
			os.Exit(0) // connected, then closed by the hub
		}
		os.Exit(4)
	}
	os.Exit(m.Run())
}

// A process of another user (nobody, 65534) cannot reach the hub's
// socket in its 0700 folder; and where a socket is reachable, the kernel's
// word on the peer (SO_PEERCRED) has the hub close the connection and
// report it. Needs root, to run a process as another user.
func TestAnotherUserIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes: not in -short mode")
	}
	if os.Getuid() != 0 {
		t.Skip("running a process as another user needs root")
	}
	// The test binary, where nobody may run it.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(reachable(t, 0o755), "dialer")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	dialAs := func(path string) int {
		cmd := exec.Command(bin)
		cmd.Env = []string{envDialAs + "=" + path}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		err := cmd.Run()
		var exit *exec.ExitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &exit):
			return exit.ExitCode()
		default:
			t.Fatalf("running the dialer as nobody: %v", err)
			return -1
		}
	}

	// The hub's own socket: its folder keeps others out.
	home := reachable(t, 0o755)
	l, err := Listen(home, "v1")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	if code := dialAs(filepath.Join(home, "run", Name("v1")+".sock")); code != 3 {
		t.Fatalf("nobody's dialer exited %d; want 3 (the socket out of its reach)", code)
	}

	// A socket others can reach (as if the folder were opened): the
	// peer's uid is checked on each connection.
	path := filepath.Join(reachable(t, 0o777), "hub.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o777); err != nil {
		t.Fatal(err)
	}
	refused := make(chan error, 1)
	ol := &Listener{Listener: ln, check: uidIs(uint32(os.Getuid())), Refused: func(err error) { refused <- err }}
	defer func() { _ = ol.Close() }()
	go func() {
		if c, err := ol.Accept(); err == nil {
			_ = c.Close()
			refused <- errors.New("the hub accepted nobody's connection")
		}
	}()
	if code := dialAs(path); code != 0 {
		t.Fatalf("nobody's dialer exited %d; want 0 (connected, then closed)", code)
	}
	select {
	case err := <-refused:
		var pe *PeerError
		if !errors.As(err, &pe) || pe.Peer != "uid 65534" {
			t.Fatalf("refused: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the connection of another user was not reported")
	}
}

// reachable is a fresh folder of mode, in a folder others may enter (a
// test's own temporary folder is the user's alone).
func reachable(t *testing.T, mode os.FileMode) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hubsock-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}
