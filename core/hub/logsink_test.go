package hub_test

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/hub"
)

// A sink whose reader does not read never makes a write wait: lines past
// the limit are dropped, and the reader is told how many once it reads.
func TestLogSinkNeverWaits(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	s := hub.NewLogSink(w, 1<<10)
	line := strings.Repeat("x", 99) + "\n"
	start := time.Now()
	for range 10_000 { // 1 MB: far past the pipe's buffer and the limit
		if _, err := s.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("10000 writes took %v with no reader", took)
	}
	go func() { s.Close(5 * time.Second); _ = w.Close() }()
	got, _ := io.ReadAll(r)
	if !strings.Contains(string(got), "log lines dropped: this stderr was not read") {
		t.Fatalf("no word of the dropped lines in %d bytes", len(got))
	}
	if n := strings.Count(string(got), line); n == 0 || n == 10_000 {
		t.Fatalf("%d lines written of 10000; want some, not all", n)
	}
}
