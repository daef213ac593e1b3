package sdk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"
)

// FuzzReadFrames: whatever arrives on a DATA_PATH_FRAMES socket (a length
// over the bound, a message cut short, zero-length frames, garbage), the
// reader hands over exactly the complete non-empty messages before the
// first bad frame, in order (none is lost to the error), and stops there
// with an error (or at the end of the input without one).
func FuzzReadFrames(f *testing.F) {
	f.Add(appendFrames(nil, [][]byte{[]byte(`{"jsonrpc":"2.0","id":1,"result":{}}`), []byte("{}")}), 1<<20)
	f.Add(append(appendFrames(nil, [][]byte{[]byte("{}")}), 0, 0, 0), 1<<20)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 'x'}, 1<<20)
	f.Add(appendFrames(nil, [][]byte{nil, []byte("a"), bytes.Repeat([]byte("b"), 70000)}), 100)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		if max < 0 {
			max = -max
		}
		var got [][]byte
		err := readFrames(bytes.NewReader(in), max, func(msgs [][]byte) {
			got = append(got, msgs...)
		})
		// The reference: walk the frames by hand.
		var want [][]byte
		var wantErr error
		rest := in
		for len(rest) > 0 {
			if len(rest) < 4 {
				wantErr = io.ErrUnexpectedEOF
				break
			}
			n := binary.BigEndian.Uint32(rest)
			if uint64(n) > uint64(max) {
				wantErr = errFrameTooLong
				break
			}
			if uint64(len(rest)-4) < uint64(n) {
				wantErr = io.ErrUnexpectedEOF
				break
			}
			if n > 0 {
				want = append(want, rest[4:4+n])
			}
			rest = rest[4+n:]
		}
		if (err == nil) != (wantErr == nil) || (wantErr != nil && !errors.Is(err, wantErr)) {
			t.Fatalf("error %v, want %v", err, wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("%d messages, want %d", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("message %d: %q, want %q", i, got[i], want[i])
			}
		}
	})
}

// A whole frame is handed over while the next is still on its way: a small
// answer does not wait behind the first part of a large one.
func TestReadFramesDoesNotHoldAFrameBehindAPartialOne(t *testing.T) {
	r, w := io.Pipe()
	got := make(chan string, 4)
	go func() {
		_ = readFrames(r, 1<<20, func(msgs [][]byte) {
			for _, m := range msgs {
				got <- string(m)
			}
		})
	}()
	first := appendFrames(nil, [][]byte{[]byte(`{"id":1}`)})
	second := appendFrames(nil, [][]byte{[]byte(`{"id":2,"result":"a long answer"}`)})
	go func() { _, _ = w.Write(append(first, second[:12]...)) }()
	select {
	case m := <-got:
		if m != `{"id":1}` {
			t.Fatalf("got %q", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the whole frame was held back behind the partial one")
	}
	_, _ = w.Write(second[12:])
	if m := <-got; m != `{"id":2,"result":"a long answer"}` {
		t.Fatalf("got %q", m)
	}
	_ = w.Close()
}

// Held messages go out with the next send or flush, in order, in one
// batch; once a write failed, holding fails too.
func TestSendQueueHolds(t *testing.T) {
	var batches [][]string
	fail := error(nil)
	q := sendQueue{flush: func(b [][]byte) error {
		var s []string
		for _, m := range b {
			s = append(s, string(m))
		}
		batches = append(batches, s)
		return fail
	}}
	_ = q.hold([]byte("a"))
	_ = q.hold([]byte("b"))
	if len(batches) != 0 {
		t.Fatalf("held messages were written: %v", batches)
	}
	_ = q.send([]byte("c"))
	_ = q.hold([]byte("d"))
	_ = q.send() // a flush
	_ = q.send() // nothing held: no write
	if fmt.Sprint(batches) != "[[a b c] [d]]" {
		t.Fatalf("batches %v, want [[a b c] [d]]", batches)
	}
	fail = errors.New("broken pipe")
	_ = q.send([]byte("e"))
	if err := q.hold([]byte("f")); err == nil {
		t.Fatal("hold on a broken queue did not fail")
	}
}
