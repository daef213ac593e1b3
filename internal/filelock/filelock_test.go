package filelock

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// The lock excludes a second holder until released, and a waiter gives up
// when its context ends.
func TestAcquire(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	release, err := Acquire(context.Background(), path, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := Acquire(ctx, path, time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second holder while the first holds it: %v", err)
	}
	release()
	again, err := Acquire(context.Background(), path, time.Millisecond)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again()
}
