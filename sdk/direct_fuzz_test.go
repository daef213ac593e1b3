package sdk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
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
