package hub_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/hub"
)

// A client that does not read holds no writer up; past the limit the
// session is declared stalled, and what was queued before a close goes
// out.
func TestOutQueue(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	stalled := make(chan error, 1)
	q := hub.NewOutQueue(w, 1<<20, func(err error) { stalled <- err })
	line := bytes.Repeat([]byte{'x'}, 64<<10)
	wrote := make(chan error, 1)
	go func() {
		// Far more than a pipe holds: none of these writes may wait.
		for range 15 {
			if _, err := q.Write(line); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatalf("a write under the limit failed: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a write waited for the client")
	}
	for range 32 {
		if _, err = q.Write(line); err != nil {
			break
		}
	}
	if !errors.Is(err, hub.ErrStalled) {
		t.Fatalf("past the limit: %v, want ErrStalled", err)
	}
	select {
	case err := <-stalled:
		if !errors.Is(err, hub.ErrStalled) {
			t.Fatalf("stalled with %v", err)
		}
	default:
		t.Fatal("the stall was not reported")
	}
	if err := q.Close(time.Second); !errors.Is(err, hub.ErrStalled) {
		t.Fatalf("Close: %v", err)
	}
	_ = w.Close()

	// A reading client gets every message, in order, before Close ends.
	r2, w2, _ := os.Pipe()
	got := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(r2); got <- b }()
	q = hub.NewOutQueue(w2, 1<<20, nil)
	var want []byte
	for i := range 100 {
		msg := []byte{byte('a' + i%26), '\n'}
		want = append(want, msg...)
		if _, err := q.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	_ = w2.Close()
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("the client read %q", b)
	}
}
