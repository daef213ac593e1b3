package jsonrpc

import (
	"encoding/json"
	"testing"
)

// TestWriters: every writer makes valid JSON-RPC whose envelope reads back
// as written, with the raw members untouched.
func TestWriters(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{string(AppendRequest(nil, []byte("7"), "tools/call", []byte(`{"name":"x"}`))), `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x"}}`},
		{string(AppendRequest(nil, []byte(`"ica-8"`), "ping", nil)), `{"jsonrpc":"2.0","id":"ica-8","method":"ping"}`},
		{string(AppendNotification(nil, "notifications/initialized", nil)), `{"jsonrpc":"2.0","method":"notifications/initialized"}`},
		{string(AppendNotification(nil, "a\"b", []byte(`{}`))), `{"jsonrpc":"2.0","method":"a\"b","params":{}}`},
		{string(AppendResult(nil, []byte(`"s1"`), []byte(`{"roots":[]}`))), `{"jsonrpc":"2.0","id":"s1","result":{"roots":[]}}`},
		{string(AppendError(nil, nil, ErrorObject(-32600, "bad <x>"))), `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"bad \u003cx\u003e"}}`},
	} {
		if tc.got != tc.want {
			t.Errorf("got  %s\nwant %s", tc.got, tc.want)
		}
		if !json.Valid([]byte(tc.got)) || !Parse([]byte(tc.got)).IsV2() {
			t.Errorf("not a valid message: %s", tc.got)
		}
	}
}
