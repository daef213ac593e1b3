package jsonrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestDepth(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{``, 0},
		{`1`, 0},
		{`{}`, 1},
		{`[[[]]]`, 3},
		{`{"a":[{"b":{}}]}`, 4},
		{`{"a":"[[[[{{{"}`, 1},
		{`{"a":"\"[[["}`, 1},
		{`{"a":"\\"}`, 1},
		{`{"a":"\\\"[["}`, 1},
		{`["\\\\",[1]]`, 2},
		{`[[],[],[[]]]`, 3},
		{`"unterminated [[[`, 0},
		{`]]][[`, 2},
	} {
		if got := Depth([]byte(c.in), 100); got != c.want {
			t.Errorf("Depth(%q) = %d, want %d", c.in, got, c.want)
		}
	}
	if got := Depth([]byte(strings.Repeat("[", 50)), 10); got != 11 {
		t.Errorf("Depth stops counting at limit+1: got %d", got)
	}
}

// A server's answer of 12 MB of "[" overflowed the process's stack in
// gjson's recursive validation; Validate refuses it first.
func TestValidateRefusesDeepNesting(t *testing.T) {
	msg := []byte(`{"jsonrpc":"2.0","id":7,"result":` + strings.Repeat("[", 12<<20) + `}`)
	if err := Validate(msg); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("Validate: %v", err)
	}
	if e := Parse(msg); string(e.ID) != "7" {
		t.Fatalf("the envelope of a refused message must stay readable (to answer its id): %q", e.ID)
	}
	ok := []byte(`{"a":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`)
	if err := Validate(ok); err != nil {
		t.Fatalf("Validate at the bound: %v", err)
	}
	if err := Validate([]byte(`{"a":}`)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Validate of invalid JSON: %v", err)
	}
}

// refDepth is the nesting of valid JSON by encoding/json's tokens.
func refDepth(b []byte) (int, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return deepest, true
		}
		if err != nil {
			return 0, false
		}
		switch tok {
		case json.Delim('['), json.Delim('{'):
			depth++
			deepest = max(deepest, depth)
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
	}
}

// FuzzDepth holds Depth to encoding/json's view of every valid JSON
// value, and Validate to gjson's within the bound; neither may panic.
func FuzzDepth(f *testing.F) {
	for _, s := range []string{`{}`, `[[["\\"]]]`, `{"a":"[\"{"}`, `[1,[2,[3]]]`, `"x"`, `{"a":[{"b":"\\\\"}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := Depth(b, 64)
		err := Validate(b)
		if want, ok := refDepth(b); ok && json.Valid(b) {
			if min(want, 65) != got {
				t.Fatalf("Depth(%q) = %d, encoding/json says %d", b, got, want)
			}
		}
		if got <= MaxDepth && (err == nil) != gjson.ValidBytes(b) {
			t.Fatalf("Validate(%q) = %v, gjson.ValidBytes %v", b, err, gjson.ValidBytes(b))
		}
	})
}

func TestDuplicateKey(t *testing.T) {
	for in, want := range map[string]string{
		`{"name":"a","description":"x"}`:                                             "",
		`{"name":"a","description":"x","description":"y"}`:                           "description",
		`{"a":{"b":1},"c":{"b":2}}`:                                                  "",
		`{"inputSchema":{"properties":{"p":{"description":"x","description":"y"}}}}`: "inputSchema.properties.p.description",
		`{"a":[{"k":1},{"k":1,"k":2}]}`:                                              "a.1.k",
		`[{"x":1},{"x":1}]`:                                                          "",
		`{"s":"{\"k\":1,\"k\":2}"}`:                                                  "",
		`{"a":[[],{"z":1,"z":1}]}`:                                                   "a.1.z",
	} {
		if got := DuplicateKey([]byte(in)); got != want {
			t.Errorf("DuplicateKey(%s) = %q, want %q", in, got, want)
		}
	}
}

// The depth pass runs on every message, in both directions, before
// gjson's validation: it must cost a fraction of it.
func BenchmarkValidate(b *testing.B) {
	msg := []byte(`{"jsonrpc":"2.0","id":42,"result":{"content":[{"type":"text","text":"Echo: hello from the benchmark, with a few words of text"}],"structuredContent":{"echo":"hello","n":[1,2,3],"nested":{"a":{"b":"c"}}},"isError":false}}`)
	b.Run("depth", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			Depth(msg, MaxDepth)
		}
	})
	b.Run("gjson.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			gjson.ValidBytes(msg)
		}
	})
}
