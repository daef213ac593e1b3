package hub

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// The first line is reported when it is an initialize, whatever the
// reads' sizes; the bytes pass unchanged.
func TestInitWatcher(t *testing.T) {
	input := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}` + "\n" + `{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n"
	for _, chunk := range []int{1, 7, len(input)} {
		var found json.RawMessage
		w := &initWatcher{r: &chunked{s: input, n: chunk}, found: func(m json.RawMessage) { found = m }}
		got, _ := io.ReadAll(w)
		if string(got) != input {
			t.Fatalf("chunk %d: passed %q", chunk, got)
		}
		if !strings.HasPrefix(string(found), `{"jsonrpc":"2.0","id":1,"method":"initialize"`) || strings.Contains(string(found), "\n") {
			t.Fatalf("chunk %d: found %q", chunk, found)
		}
	}
	var found json.RawMessage
	w := &initWatcher{r: strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}` + "\n"), found: func(m json.RawMessage) { found = m }}
	_, _ = io.ReadAll(w)
	if found != nil {
		t.Fatalf("a stateless first request taken for an initialize: %s", found)
	}
}

// A resumed session's input starts with the replayed initialize and its
// notification; the answer to it never reaches the client, whatever
// comes before or with it.
func TestReplayAndDrop(t *testing.T) {
	r, err := replay(json.RawMessage(`{"jsonrpc":"2.0","id":7,"method":"initialize","params":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	in, _ := io.ReadAll(r)
	want := `{"jsonrpc":"2.0","id":"ica-hub-resume","method":"initialize","params":{}}` + "\n" + `{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n"
	if string(in) != want {
		t.Fatalf("replayed %q", in)
	}
	out := `{"jsonrpc":"2.0","method":"notifications/message","params":{}}` + "\n" +
		`{"jsonrpc":"2.0","id":"ica-hub-resume","result":{"protocolVersion":"2025-11-25"}}` + "\n" +
		`{"jsonrpc":"2.0","id":3,"result":{}}` + "\n" + `{"jsonrpc":"2.0","id":4,"result":{}}` + "\n"
	for _, chunk := range []int{1, 5, len(out)} {
		var b bytes.Buffer
		d := &answerDropper{w: &b}
		for s := out; s != ""; {
			n := min(chunk, len(s))
			if k, err := d.Write([]byte(s[:n])); err != nil || k != n {
				t.Fatalf("write: %d %v", k, err)
			}
			s = s[n:]
		}
		if strings.Contains(b.String(), "ica-hub-resume") || !strings.Contains(b.String(), `"id":3`) || !strings.Contains(b.String(), `"id":4`) || !strings.Contains(b.String(), "notifications/message") {
			t.Fatalf("chunk %d: the client got %q", chunk, b.String())
		}
	}
}

type chunked struct {
	s string
	n int
}

func (c *chunked) Read(p []byte) (int, error) {
	if c.s == "" {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.n)], c.s)
	c.s = c.s[n:]
	return n, nil
}
