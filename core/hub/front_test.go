package hub_test

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/hub"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/hubsock"
)

// echo is a session that answers each line with "echo: " and the line.
func echo(_ context.Context, _ hub.Hello, in io.Reader, out, _ io.Writer) error {
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if _, err := fmt.Fprintf(out, "echo: %s\n", sc.Text()); err != nil {
			return err
		}
	}
	return nil
}

// hubStarter starts an in-process hub for home on demand, counting starts.
type hubStarter struct {
	home    string
	version string
	// socket is the version whose socket the hub listens on: its own
	// unless a test says otherwise.
	socket string
	linger time.Duration
	starts atomic.Int32
	served chan error
}

func (h *hubStarter) start(t *testing.T) func() error {
	return func() error {
		h.starts.Add(1)
		l, err := hubsock.Listen(h.home, cmp.Or(h.socket, h.version))
		if err != nil {
			return err
		}
		srv := &hub.Server{Version: h.version, Session: echo, Linger: h.linger}
		go func() { h.served <- srv.Serve(t.Context(), l) }()
		return nil
	}
}

// front runs a front of version on pipes and returns its stdin's writer,
// stdout's reader, and its end.
func front(t *testing.T, home, version string, relay bool, start func() error) (io.WriteCloser, *bufio.Reader, <-chan error) {
	t.Helper()
	inR, inW, _ := os.Pipe()
	outR, outW, _ := os.Pipe()
	f := &hub.Front{Home: home, Version: version, Stdin: inR, Stdout: outW, Relay: relay, StartHub: start,
		Hello: hub.Hello{Cwd: t.TempDir(), Env: []string{"A=1"}}}
	done := make(chan error, 1)
	go func() {
		err := f.Run(context.Background())
		_ = inR.Close()
		_ = outW.Close()
		done <- err
	}()
	return inW, bufio.NewReader(outR), done
}

// A front starts the hub when none runs and hands it its session, with
// its stdin and stdout passed or relayed; the session's end ends the
// front; and the hub, idle for its linger, stops.
func TestFrontAndHub(t *testing.T) {
	for _, relay := range []bool{false, true} {
		t.Run(fmt.Sprintf("relay=%v", relay), func(t *testing.T) {
			h := &hubStarter{home: t.TempDir(), version: "v1", linger: 200 * time.Millisecond, served: make(chan error, 1)}
			in, out, done := front(t, h.home, "v1", relay, h.start(t))
			_, _ = io.WriteString(in, "hi\n")
			if line, err := out.ReadString('\n'); line != "echo: hi\n" {
				t.Fatalf("through the hub: %q %v", line, err)
			}
			_ = in.Close()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("the front: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the front did not end with its session")
			}
			select {
			case err := <-h.served:
				if err != nil {
					t.Fatalf("the hub: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the hub did not stop after its linger")
			}
			if n := h.starts.Load(); n != 1 {
				t.Fatalf("%d hubs started", n)
			}
		})
	}
}

// Fronts starting together make one hub.
func TestFrontsRaceToStartOneHub(t *testing.T) {
	h := &hubStarter{home: t.TempDir(), version: "v1", served: make(chan error, 4)}
	start := h.start(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			in, out, done := front(t, h.home, "v1", false, start)
			_, _ = io.WriteString(in, "x\n")
			if line, _ := out.ReadString('\n'); line != "echo: x\n" {
				t.Errorf("a racing front: %q", line)
			}
			_ = in.Close()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := h.starts.Load(); n != 1 {
		t.Fatalf("%d hubs started by 4 fronts", n)
	}
}

// A hub of another version (on the front's socket: each version has its
// own, so only a broken peer does this) refuses the front, which is told
// why and serves in-process (ErrNoHub).
func TestFrontOfAnotherVersion(t *testing.T) {
	h := &hubStarter{home: t.TempDir(), version: "v2", socket: "v1", served: make(chan error, 1)}
	_, _, done := front(t, h.home, "v1", false, h.start(t))
	err := <-done
	var r *hub.Refusal
	if !errors.Is(err, hub.ErrNoHub) || !errors.As(err, &r) {
		t.Fatalf("a front of another version: %v", err)
	}
	// Without a way to start a hub, the front says so.
	_, _, done = front(t, t.TempDir(), "v1", false, nil)
	if err := <-done; !errors.Is(err, hub.ErrNoHub) {
		t.Fatalf("no hub and no start: %v", err)
	}
}

// After an upgrade, a front of the new version starts a hub of its own
// beside the old one, which keeps serving its sessions.
func TestUpgradeStartsAHubBeside(t *testing.T) {
	home := t.TempDir()
	old := &hubStarter{home: home, version: "v1", served: make(chan error, 1)}
	oldIn, oldOut, oldDone := front(t, home, "v1", false, old.start(t))
	_, _ = io.WriteString(oldIn, "old\n")
	if line, _ := oldOut.ReadString('\n'); line != "echo: old\n" {
		t.Fatalf("the old front: %q", line)
	}
	upgraded := &hubStarter{home: home, version: "v2", served: make(chan error, 1)}
	in, out, done := front(t, home, "v2", false, upgraded.start(t))
	_, _ = io.WriteString(in, "new\n")
	if line, _ := out.ReadString('\n'); line != "echo: new\n" {
		t.Fatalf("the new front: %q", line)
	}
	_, _ = io.WriteString(oldIn, "still\n")
	if line, _ := oldOut.ReadString('\n'); line != "echo: still\n" {
		t.Fatalf("the old hub's session after the upgrade: %q", line)
	}
	_ = in.Close()
	_ = oldIn.Close()
	for _, d := range []<-chan error{done, oldDone} {
		if err := <-d; err != nil {
			t.Fatal(err)
		}
	}
	if old.starts.Load() != 1 || upgraded.starts.Load() != 1 {
		t.Fatalf("hubs started: %d old, %d new", old.starts.Load(), upgraded.starts.Load())
	}
}
