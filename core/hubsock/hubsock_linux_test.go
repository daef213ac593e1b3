package hubsock

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The user's own process gets through; a peer of another uid is refused
// and told to Refused (the listener is made to expect another uid, as a
// test cannot switch users); a second hub cannot listen while the first
// does, and a dead hub's socket is replaced.
func TestListenDialPeers(t *testing.T) {
	home := t.TempDir()
	l, err := Listen(home, "v1")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	if _, err := Listen(home, "v1"); err == nil || !strings.Contains(err.Error(), "already listens") {
		t.Fatalf("a second hub: %v", err)
	}
	accepted := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			_ = c.Close()
		}
		accepted <- err
	}()
	c, err := Dial(home, "v1")
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	if err := <-accepted; err != nil {
		t.Fatal(err)
	}

	refused := make(chan error, 1)
	l.check = uidIs(uint32(os.Getuid()) + 1)
	l.Refused = func(err error) { refused <- err }
	go func() { _, _ = l.Accept() }()
	c, err = Dial(home, "v1")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	var pe *PeerError
	if err := <-refused; !errors.As(err, &pe) || pe.Peer != fmt.Sprintf("uid %d", os.Getuid()) {
		t.Fatalf("refused: %v", err)
	}
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("a refused connection was not closed: %d %v", n, err)
	}

	// A hub that died leaves its socket: the next one replaces it.
	dead := t.TempDir()
	ld, err := Listen(dead, "v1")
	if err != nil {
		t.Fatal(err)
	}
	ld.Listener.(interface{ SetUnlinkOnClose(bool) }).SetUnlinkOnClose(false)
	_ = ld.Close()
	if _, err := os.Stat(filepath.Join(dead, "run", Name("v1")+".sock")); err != nil {
		t.Fatalf("the dead hub's socket: %v", err)
	}
	again, err := Listen(dead, "v1")
	if err != nil {
		t.Fatalf("after a dead hub: %v", err)
	}
	_ = again.Close()
}

// A run folder others can enter is refused.
func TestRunDirMustBePrivate(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(home, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(home, "v1"); err == nil || !strings.Contains(err.Error(), "chmod 700") {
		t.Fatalf("a run folder open to others: %v", err)
	}
}

// A front hands the hub its stdin and stdout: what is written to the
// passed file reaches the pipe's reader.
func TestFilesPassed(t *testing.T) {
	home := t.TempDir()
	l, err := Listen(home, "v1")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	got := make(chan []*os.File, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
			got <- nil
			return
		}
		defer func() { _ = c.Close() }()
		files, err := ReceiveFiles(c, 2)
		if err != nil {
			t.Error(err)
		}
		got <- files
	}()
	inR, inW, _ := os.Pipe()
	outR, outW, _ := os.Pipe()
	c, err := Dial(home, "v1")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if err := SendFiles(c, inR, outW); err != nil {
		t.Fatal(err)
	}
	files := <-got
	if len(files) != 2 {
		t.Fatalf("%d files", len(files))
	}
	// No process the hub starts (plugins, upstreams) may inherit them.
	for _, f := range files {
		flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC == 0 {
			t.Fatalf("a passed file is inherited by what the hub starts: flags %#x, %v", flags, err)
		}
	}
	_, _ = inW.Write([]byte("request\n"))
	buf := make([]byte, 8)
	if n, _ := files[0].Read(buf); string(buf[:n]) != "request\n" {
		t.Fatalf("the hub read %q from the passed stdin", buf[:n])
	}
	_, _ = files[1].Write([]byte("answer\n"))
	_ = files[1].Close()
	_ = outW.Close()
	if data, _ := io.ReadAll(outR); string(data) != "answer\n" {
		t.Fatalf("the client read %q from the passed stdout", data)
	}
}
