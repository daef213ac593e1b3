package lines

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// FuzzReadLines: whatever an upstream writes on stdout (invalid UTF-8, NUL
// bytes, CRs, no final newline, lines longer than the read buffer), the
// reader hands over exactly its non-empty lines, trimmed, in order, in
// slices that stay intact after later batches.
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
		// Kept as handed over, not cloned: Read must not reuse them.
		_ = Read(bytes.NewReader(in), 64<<20, func(lines [][]byte) {
			got = append(got, lines...)
		}, nil, hclog.NewNullLogger())
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

// A line longer than the limit is dropped, the lines around it are not,
// and what is kept of it (head, tail, size) finds its id.
func TestReadLinesDropsOverlongLines(t *testing.T) {
	big := `{"result":{"content":[{"type":"text","text":"` + string(bytes.Repeat([]byte("x"), 200<<10)) + `"}]},"jsonrpc":"2.0","id":"req-7"}`
	in := "before\n" + big + "\r\nafter\n"
	var got []string
	var dropped []Overlong
	_ = Read(bytes.NewReader([]byte(in)), 100<<10, func(lines [][]byte) {
		for _, l := range lines {
			got = append(got, string(l))
		}
	}, func(o Overlong) { dropped = append(dropped, o) }, hclog.NewNullLogger())
	if len(got) != 2 || got[0] != "before" || got[1] != "after" {
		t.Fatalf("got %d lines: %.20q", len(got), got)
	}
	if len(dropped) != 1 || dropped[0].Size != len(big) {
		t.Fatalf("dropped %d lines (size %d, want %d)", len(dropped), dropped[0].Size, len(big))
	}
	if id, ok := dropped[0].ID(); !ok || id != `"req-7"` {
		t.Fatalf("id %q %v", id, ok)
	}
}

func TestOverlongID(t *testing.T) {
	pad := string(bytes.Repeat([]byte("x"), 10<<10))
	for _, c := range []struct {
		line string
		id   string
	}{
		{`{"jsonrpc":"2.0","id":42,"result":{"text":"` + pad + `"}}`, "42"},
		{`{"result":{"text":"` + pad + `"},"jsonrpc":"2.0","id":"a\"b"}`, `"a\"b"`},
		{`{"result":{"items":[{"id":5}],"text":"` + pad + `"}}`, ""},               // an id nested at the start
		{`{"result":{"text":"` + pad + `","inner":{"id":5}}}`, ""},                 // an id nested at the end
		{`{"jsonrpc":"2.0","id":3,"method":"x","params":{"t":"` + pad + `"}}`, ""}, // a request
		{"not json " + pad, ""},
	} {
		var o Overlong
		o.add([]byte(c.line))
		id, ok := o.ID()
		if id != c.id || ok != (c.id != "") {
			t.Errorf("%.60s…: id %q %v, want %q", c.line, id, ok, c.id)
		}
	}
}

// A whole line is handed over while the next is still on its way: a small
// answer does not wait behind the first part of a large one.
func TestReadDoesNotHoldALineBehindAPartialOne(t *testing.T) {
	r, w := io.Pipe()
	got := make(chan string, 4)
	go func() {
		_ = Read(r, 64<<20, func(lines [][]byte) {
			for _, l := range lines {
				got <- string(l)
			}
		}, nil, hclog.NewNullLogger())
	}()
	go func() { _, _ = w.Write([]byte("{\"id\":1}\n{\"id\":2,\"result\":\"the start of a long")) }()
	select {
	case l := <-got:
		if l != `{"id":1}` {
			t.Fatalf("got %q", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the whole line was held back behind the partial one")
	}
	_, _ = w.Write([]byte(" answer\"}\n"))
	if l := <-got; l != `{"id":2,"result":"the start of a long answer"}` {
		t.Fatalf("got %q", l)
	}
	_ = w.Close()
}
