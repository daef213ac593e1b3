package upstream

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// recordingSession is a ClientSession that records what the proxy sends
// back to the upstream.
type recordingSession struct {
	mu   sync.Mutex
	sent [][]byte
}

func (r *recordingSession) Ready() sdk.Ready { return sdk.Ready{} }
func (r *recordingSession) Send(msgs ...[]byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range msgs {
		r.sent = append(r.sent, append([]byte(nil), m...))
	}
	return nil
}
func (r *recordingSession) Recv() (sdk.Frame, error)  { select {} }
func (r *recordingSession) Close(time.Duration) error { return nil }
func (r *recordingSession) Abort()                    {}

// FuzzDispatch: whatever an upstream sends (invalid JSON or UTF-8, NUL
// bytes, batches, unknown or duplicate ids, wrong-case keys such as
// "Method"), routing it never panics; what is handed on to the client
// (notifications, requests, answers) is valid JSON; a pending call gets at
// most one answer; and what the proxy sends back to the upstream is valid
// JSON.
func FuzzDispatch(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`,
		`{"jsonrpc":"2.0","id":1,"id":2,"result":{}}`,
		`{"jsonrpc":"2.0","ID":1,"Method":"tools/list"}`,
		`[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","method":"notifications/progress","params":{}}]`,
		`{"jsonrpc":"2.0","id":"x","method":"sampling/createMessage","params":{"a":1}}`,
		`{"jsonrpc":"2.0","id":7,"method":"ping"}`,
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"\xff\x00\"}",
		`[[[[{"id":1}]]]]`,
		`{"id":99999999999999999999,"error":{"code":-1}}`,
		`null`, `"text"`, `{}`, `[]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		var mu sync.Mutex
		var handed [][]byte
		hand := func(b []byte) {
			mu.Lock()
			handed = append(handed, append([]byte(nil), b...))
			mu.Unlock()
		}
		cs := &recordingSession{}
		c := &Conn{server: "fuzz", cs: cs, logger: hclog.NewNullLogger(), pending: map[int64]*pendingCall{}, done: make(chan struct{})}
		c.h = handlers{
			notify: func(_ string, params, raw json.RawMessage) { hand(raw); hand(orNull(params)) },
			request: func(_ string, id, params json.RawMessage, reply func(result, rpcErr json.RawMessage)) {
				hand(id)
				hand(orNull(params))
				reply(json.RawMessage(`{}`), nil)
			},
		}
		answers := 0
		c.pending[1] = &pendingCall{done: func(r Reply, err error) {
			mu.Lock()
			answers++
			mu.Unlock()
			if err == nil {
				hand(orNull(r.Result))
				if r.Error != nil {
					hand(r.Error)
				}
			}
		}}
		c.dispatch(msg)
		time.Sleep(time.Millisecond) // answers to ping go from a goroutine
		mu.Lock()
		defer mu.Unlock()
		if answers > 1 {
			t.Fatalf("call 1 answered %d times", answers)
		}
		for _, b := range handed {
			if !json.Valid(b) {
				t.Fatalf("handed on invalid JSON %q from %q", b, msg)
			}
		}
		cs.mu.Lock()
		defer cs.mu.Unlock()
		for _, b := range cs.sent {
			if !json.Valid(b) {
				t.Fatalf("sent the upstream invalid JSON %q from %q", b, msg)
			}
		}
	})
}

func orNull(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

// A message of deeply nested brackets is dropped after one pass over it,
// and a batch inside a batch is not routed.
func TestDispatchNestedBatches(t *testing.T) {
	cs := &recordingSession{}
	answered := make(chan struct{}, 2)
	c := &Conn{server: "deep", cs: cs, logger: hclog.NewNullLogger(), pending: map[int64]*pendingCall{}, done: make(chan struct{})}
	c.pending[1] = &pendingCall{done: func(Reply, error) { answered <- struct{}{} }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		deep := strings.Repeat("[", 300_000) + strings.Repeat("]", 300_000)
		c.dispatch([]byte(deep))
		c.dispatch([]byte(`[[{"jsonrpc":"2.0","id":1,"result":{}}]]`))
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("routing 600 KB of nested brackets did not finish in 20 s")
	}
	select {
	case <-answered:
		t.Fatal("a message nested in a batch of batches was routed")
	default:
	}
	c.dispatch([]byte(` [{"jsonrpc":"2.0","id":1,"result":{}}] `))
	select {
	case <-answered:
	default:
		t.Fatal("a batch member was not routed")
	}
}
