package stdio

import (
	"bytes"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// FuzzReadLines: whatever an upstream writes on stdout (invalid UTF-8, NUL
// bytes, CRs, no final newline, lines longer than the read buffer), the
// reader hands over exactly its non-empty lines, trimmed, in order.
func FuzzReadLines(f *testing.F) {
	for _, seed := range []string{
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n",
		"banner text\n{\"a\":1}\r\n\n  \n{\"b\":2}",
		"\x00\x00\n\xff\xfe{\"x\":\"\xc3\x28\"}\n",
		string(bytes.Repeat([]byte("x"), 70000)) + "\nshort\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var got [][]byte
		readLines(bytes.NewReader(in), 64<<20, func(lines [][]byte) {
			for _, l := range lines {
				got = append(got, bytes.Clone(l))
			}
		}, hclog.NewNullLogger())
		var want [][]byte
		for _, l := range bytes.Split(in, []byte("\n")) {
			if l = bytes.TrimSpace(l); len(l) > 0 {
				want = append(want, l)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%d lines handed over, want %d", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("line %d: %q, want %q", i, got[i], want[i])
			}
		}
	})
}

// A line longer than the limit is dropped, and the lines around it are
// not.
func TestReadLinesDropsOverlongLines(t *testing.T) {
	in := "before\n" + string(bytes.Repeat([]byte("x"), 200<<10)) + "\nafter\n"
	var got []string
	readLines(bytes.NewReader([]byte(in)), 100<<10, func(lines [][]byte) {
		for _, l := range lines {
			got = append(got, string(l))
		}
	}, hclog.NewNullLogger())
	if len(got) != 2 || got[0] != "before" || got[1] != "after" {
		t.Fatalf("got %d lines: %.20q", len(got), got)
	}
}
