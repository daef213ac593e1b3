package jsonrpc

import (
	"encoding/json"
	"testing"

	"github.com/tidwall/gjson"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want Envelope
	}{
		{`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"a.echo","id":9}}`,
			Envelope{Version: []byte(`"2.0"`), ID: []byte(`7`), Method: "tools/call", Params: []byte(`{"name":"a.echo","id":9}`)}},
		{` {"result" : {"content":[]} , "id":"x","jsonrpc":"2.0"} `,
			Envelope{Version: []byte(`"2.0"`), ID: []byte(`"x"`), Result: []byte(`{"content":[]}`)}},
		// The first of two members counts; escaped keys and methods are read.
		{`{"id":1,"id":2,"\u006dethod":"a\/b","error":{"code":-1},"error":null}`,
			Envelope{ID: []byte(`1`), Method: "a/b", Error: []byte(`{"code":-1}`)}},
		{`{"method":5,"id":null}`, Envelope{ID: []byte(`null`)}},
		{`[{"id":1}]`, Envelope{}},
		{`"id"`, Envelope{}},
		{``, Envelope{}},
	} {
		got := Parse([]byte(tc.msg))
		if string(got.Version) != string(tc.want.Version) || string(got.ID) != string(tc.want.ID) || got.Method != tc.want.Method ||
			string(got.Params) != string(tc.want.Params) || string(got.Result) != string(tc.want.Result) || string(got.Error) != string(tc.want.Error) {
			t.Errorf("Parse(%s) = %+q, want %+q", tc.msg, got, tc.want)
		}
	}
	if e := Parse([]byte(`{"id":null}`)); e.HasID() {
		t.Error("a null id is no id")
	}
	if e := Parse([]byte(`{"jsonrpc":"2.0","id":0}`)); !e.HasID() || !e.IsV2() {
		t.Error("id 0 and jsonrpc 2.0 not seen")
	}
}

// The slices are capped, so appending to one cannot overwrite the rest of
// the message.
func TestParseCapped(t *testing.T) {
	msg := []byte(`{"id":1,"params":{},"method":"m"}`)
	e := Parse(msg)
	_ = append(e.Params, 'X')
	if string(msg) != `{"id":1,"params":{},"method":"m"}` {
		t.Fatalf("message changed: %s", msg)
	}
}

// FuzzParse holds Parse to the lookups it replaced: for every valid JSON
// object, each member is what gjson finds at that key.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}`,
		`{"jsonrpc":"2.0","id":"a","result":{"content":[{"type":"text","text":"hi"}]}}`,
		`{"id":1,"error":{"code":-32601,"message":"no"},"id":2}`,
		`{"\u0069d":1,"method":"\u0041"}`,
		`{"params":[1,{"id":2}],"result":"x"}`,
		`[{"id":1}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		if !gjson.ValidBytes(msg) {
			return
		}
		got := Parse(msg)
		if !gjson.ParseBytes(msg).IsObject() {
			if got.ID != nil || got.Method != "" || got.Params != nil || got.Result != nil || got.Error != nil || got.Version != nil {
				t.Fatalf("not an object, yet an envelope: %+q", got)
			}
			return
		}
		r := gjson.GetManyBytes(msg, "jsonrpc", "id", "method", "params", "result", "error")
		for i, have := range [][]byte{got.Version, got.ID, nil, got.Params, got.Result, got.Error} {
			if i == 2 {
				if got.Method != r[2].Str {
					t.Fatalf("method %q, gjson %q in %s", got.Method, r[2].Str, msg)
				}
				continue
			}
			if r[i].Exists() != (have != nil) || string(have) != r[i].Raw {
				t.Fatalf("member %d: %q, gjson %q in %s", i, have, r[i].Raw, msg)
			}
		}
	})
}

// FuzzAppendString holds AppendString to json.Marshal's output.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"tools/call", "a.echo", `q"uote`, "back\\slash", "<html>&", "\x00\x1f", "é", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got[1:], want)
		}
	})
}
