package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestReader(t *testing.T) {
	in := "\xef\xbb\xbf: keep-alive\r\n" +
		"event: endpoint\r\ndata: /messages?s=1\r\n\r\n" +
		"id: 7\ndata: {\"a\":\ndata: 1}\n\n" +
		"retry: 1500\nid\n\n" + // no data: not dispatched, but resets the id
		"data:no-space\n\n" +
		"data: cut off"
	r := NewReader(strings.NewReader(in), 1<<20)
	want := []Event{
		{Type: "endpoint", Data: []byte("/messages?s=1")},
		{Type: "message", Data: []byte("{\"a\":\n1}"), ID: "7"},
		{Type: "message", Data: []byte("no-space"), ID: ""},
	}
	for i, w := range want {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if got.Type != w.Type || string(got.Data) != string(w.Data) || got.ID != w.ID {
			t.Fatalf("event %d = %+v (%q), want %+v (%q)", i, got, got.Data, w, w.Data)
		}
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last event: %v, want io.EOF (the cut-off event is dropped)", err)
	}
	if r.Retry() != 1500*time.Millisecond {
		t.Fatalf("retry = %v", r.Retry())
	}
}

func TestReaderLimit(t *testing.T) {
	r := NewReader(strings.NewReader("data: "+strings.Repeat("x", 100)+"\n\n"), 64)
	if _, err := r.Next(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	// A long event split over several buffer fills is still one event.
	long := strings.Repeat("y", 100<<10)
	r = NewReader(strings.NewReader("data: "+long+"\n\n"), 1<<20)
	ev, err := r.Next()
	if err != nil || string(ev.Data) != long {
		t.Fatalf("long event: %v, %d bytes", err, len(ev.Data))
	}
}
