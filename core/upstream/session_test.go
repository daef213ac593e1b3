package upstream_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/coretest"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/scripted"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk/sdktest"
)

// The upstream side in-process: an Upstream over a scripted server through
// sdktest.Local. Tests of time (timeouts, idle close, list TTLs) run in a
// synctest bubble, where the clock moves only when every goroutine waits.

type opener struct{ tc sdk.TransportClient }

func (o opener) Transport(context.Context, string) (sdk.TransportClient, string, error) {
	return o.tc, "ica-plugin-scripted", nil
}

// revisions is an in-memory upstream.RevisionMemo.
type revisions struct {
	mu sync.Mutex
	m  map[string][2]string
}

func (r *revisions) Speaks(key string) (stateless, initialize string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[key][0], r.m[key][1]
}

func (r *revisions) SetSpeaks(key, stateless, initialize string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string][2]string{}
	}
	r.m[key] = [2]string{stateless, initialize}
	return nil
}

func spec() upstream.Spec {
	return upstream.Spec{
		Transport:      "stdio",
		Session:        sdk.SessionSpec{Transport: "stdio", Command: "scripted"},
		RequestTimeout: 30 * time.Second,
		Pooled:         true,
		ToolCacheTTL:   5 * time.Minute,
		CloseGrace:     time.Second,
	}
}

// start makes an Upstream "up" over sc.
func start(t *testing.T, sc scripted.Script, sp upstream.Spec, hooks upstream.Hooks) (*upstream.Upstream, *scripted.Transport) {
	t.Helper()
	tr := scripted.NewTransport(map[string]scripted.Script{"up": sc})
	u := upstream.New("up", sp, opener{sdktest.Local(tr)}, hclog.NewNullLogger(), hooks)
	t.Cleanup(u.Close)
	return u, tr
}

func methods(msgs [][]byte) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, gjson.GetBytes(m, "method").Str)
	}
	return out
}

func call(name string) json.RawMessage {
	return json.RawMessage(`{"name":"` + name + `","arguments":{}}`)
}

// TestHandshake: a server is first asked in its client's revision
// (server/discover, with a ping that settles a server ignoring it; or
// initialize), then in the other. A server that speaks both is spoken
// to as the client speaks. What was found is remembered, so the next
// session tries only what works.
func TestHandshake(t *testing.T) {
	const (
		discover = "server/discover"
		init     = "initialize"
		inited   = "notifications/initialized"
		call     = "tools/call"
	)
	for _, tc := range []struct {
		server, client string
		first, second  []string
		speaks         [2]string
	}{
		{scripted.Stateless, "", []string{discover, "ping", call}, []string{discover, call}, [2]string{upstream.Yes, ""}},
		{scripted.Legacy, "", []string{discover, "ping", init, inited, call}, []string{init, inited, call}, [2]string{upstream.No, upstream.Yes}},
		{scripted.Legacy, upstream.RevisionInitialize, []string{init, inited, call}, []string{init, inited, call}, [2]string{"", upstream.Yes}},
		{scripted.Both, upstream.RevisionStateless, []string{discover, "ping", call}, []string{discover, call}, [2]string{upstream.Yes, ""}},
		{scripted.Both, upstream.RevisionInitialize, []string{init, inited, call}, []string{init, inited, call}, [2]string{"", upstream.Yes}},
		{scripted.Stateless, upstream.RevisionInitialize, []string{init, discover, "ping", call}, []string{discover, call}, [2]string{upstream.Yes, upstream.No}},
	} {
		t.Run(tc.server+"/"+tc.client, func(t *testing.T) {
			sc := coretest.Demo()
			sc.Revision = tc.server
			memo := &revisions{}
			sp := spec()
			sp.Revisions, sp.RevisionKey = memo, "up-key"
			hooks := upstream.Hooks{ClientRevision: func() string { return tc.client }}
			for run, want := range [][]string{tc.first, tc.second} {
				u, tr := start(t, sc, sp, hooks)
				r, err := u.Request(context.Background(), "tools/call", json.RawMessage(`{"name":"echo","arguments":{"message":"hi"}}`))
				if err != nil || !strings.Contains(string(r.Result), `"hi"`) {
					t.Fatalf("run %d: %s %v", run, r.Result, err)
				}
				if got := methods(tr.Received("up")); strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("run %d: the server received %v, want %v", run, got, want)
				}
				u.Close()
			}
			if got := memo.m["up-key"]; got != tc.speaks {
				t.Errorf("remembered %q, want %q", got, tc.speaks)
			}
		})
	}
}

// TestStatelessMeta: every request to a stateless server carries the
// revision's _meta (its version, the proxy's identity, the client's
// capabilities); a legacy server never gets those members.
func TestStatelessMeta(t *testing.T) {
	for _, rev := range []string{scripted.Stateless, scripted.Legacy} {
		sc := coretest.Demo()
		sc.Revision = rev
		u, tr := start(t, sc, spec(), upstream.Hooks{})
		if _, err := u.Request(context.Background(), "tools/call", call("add")); err != nil {
			t.Fatal(err)
		}
		msgs := tr.Received("up")
		last := msgs[len(msgs)-1]
		meta := gjson.GetBytes(last, "params._meta")
		if rev == scripted.Stateless && (meta.Get(`io\.modelcontextprotocol/protocolVersion`).Str != "2026-07-28" || !meta.Get(`io\.modelcontextprotocol/clientInfo`).Exists()) {
			t.Errorf("stateless: %s", last)
		}
		if rev == scripted.Legacy && meta.Exists() {
			t.Errorf("legacy: %s", last)
		}
	}
}

// TestRequestTimeout: a request the server never answers fails with a
// TimeoutError naming the server, the method and the timeout, and the
// server is told to stop (notifications/cancelled, under its id).
func TestRequestTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := coretest.Demo()
		sc.Calls["sleep"] = scripted.Call{} // never answers
		u, tr := start(t, sc, spec(), upstream.Hooks{})
		began := time.Now()
		_, err := u.Request(context.Background(), "tools/call", call("sleep"))
		var te *upstream.TimeoutError
		if !errors.As(err, &te) || te.Server != "up" || te.After != 30*time.Second {
			t.Fatalf("err = %v", err)
		}
		if waited := time.Since(began); waited != 30*time.Second {
			t.Errorf("failed after %v, want the 30 s timeout", waited)
		}
		synctest.Wait()
		msgs := tr.Received("up")
		var callID string
		for _, m := range msgs {
			if gjson.GetBytes(m, "method").Str == "tools/call" {
				callID = gjson.GetBytes(m, "id").Raw
			}
		}
		last := msgs[len(msgs)-1]
		if gjson.GetBytes(last, "method").Str != "notifications/cancelled" || gjson.GetBytes(last, "params.requestId").Raw != callID {
			t.Errorf("the server was not told: %s (call id %s)", last, callID)
		}
		u.Close()
	})
}

// TestCancel: a request cancelled by its caller ends with the caller's
// reason at once, and the server is told.
func TestCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := coretest.Demo()
		sc.Calls["sleep"] = scripted.Call{}
		u, tr := start(t, sc, spec(), upstream.Hooks{})
		if _, err := u.Tools(context.Background()); err != nil { // the session is open
			t.Fatal(err)
		}
		why := errors.New("the client cancelled")
		got := make(chan error, 1)
		cancel := u.Start(upstream.Call{Method: "tools/call", Params: call("sleep"), Done: func(_ upstream.Reply, err error) { got <- err }})
		synctest.Wait()
		cancel(why)
		if err := <-got; !errors.Is(err, why) {
			t.Fatalf("err = %v", err)
		}
		synctest.Wait()
		if m := methods(tr.Received("up")); m[len(m)-1] != "notifications/cancelled" {
			t.Errorf("the server received %v", m)
		}
		u.Close()
	})
}

// TestExitMidCall: when the server exits, the request in flight fails at
// once with the exit code, and the next request starts a new session.
func TestExitMidCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := coretest.Demo()
		code := 3
		sc.Calls["sleep"] = scripted.Call{Steps: []scripted.Step{{Exit: &code}}}
		u, tr := start(t, sc, spec(), upstream.Hooks{})
		_, err := u.Request(context.Background(), "tools/call", call("sleep"))
		var ee *upstream.ExitedError
		if !errors.As(err, &ee) || ee.Exited.ExitCode != 3 {
			t.Fatalf("err = %v", err)
		}
		synctest.Wait()
		if st := u.State(); st.Status != upstream.StatusError || st.Running || !strings.Contains(st.Error, "3") {
			t.Errorf("state after the exit: %+v", st)
		}
		r, err := u.Request(context.Background(), "tools/call", call("add"))
		if err != nil || !strings.Contains(string(r.Result), `"3"`) {
			t.Fatalf("the request after the exit: %s %v", r.Result, err)
		}
		if n := tr.Opens("up"); n != 2 {
			t.Errorf("%d sessions, want 2", n)
		}
		u.Close()
	})
}

// TestIdleClose: a pooled session unused for IdleTTL is closed; the next
// request opens another.
func TestIdleClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sp := spec()
		sp.IdleTTL = time.Minute
		u, tr := start(t, coretest.Demo(), sp, upstream.Hooks{})
		if _, err := u.Request(context.Background(), "tools/call", call("add")); err != nil {
			t.Fatal(err)
		}
		if !u.State().Running {
			t.Fatal("the session is not running after a request")
		}
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if !u.State().Running {
			t.Fatal("closed before IdleTTL")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if u.State().Running {
			t.Fatal("still running after IdleTTL")
		}
		if _, err := u.Request(context.Background(), "tools/call", call("add")); err != nil {
			t.Fatal(err)
		}
		if n := tr.Opens("up"); n != 2 {
			t.Errorf("%d sessions, want 2", n)
		}
		u.Close()
	})
}

// TestToolListCache: tools/list is reused for ToolCacheTTL, asked again
// after it, and at once when the server says its list changed.
func TestToolListCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := coretest.Demo()
		sc.Capabilities = json.RawMessage(`{"tools":{"listChanged":true}}`)
		sc.Calls["touch"] = scripted.Call{Steps: []scripted.Step{
			{Notify: json.RawMessage(`{"method":"notifications/tools/list_changed"}`)},
			{Result: json.RawMessage(`{"content":[]}`)},
		}}
		changed := make(chan string, 4)
		u, tr := start(t, sc, spec(), upstream.Hooks{ListChanged: func(s string, k upstream.Kind) { changed <- s + " " + k.Field() }})
		lists := func() int {
			n := 0
			for _, m := range methods(tr.Received("up")) {
				if m == "tools/list" {
					n++
				}
			}
			return n
		}
		ctx := context.Background()
		for range 3 {
			if tools, err := u.Tools(ctx); err != nil || len(tools) != 3 {
				t.Fatalf("tools: %d %v", len(tools), err)
			}
		}
		if n := lists(); n != 1 {
			t.Fatalf("%d listings within the TTL, want 1", n)
		}
		time.Sleep(5*time.Minute + time.Second)
		_, _ = u.Tools(ctx)
		if n := lists(); n != 2 {
			t.Fatalf("%d listings after the TTL, want 2", n)
		}
		if _, err := u.Request(ctx, "tools/call", call("touch")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if len(changed) != 1 || <-changed != "up tools" {
			t.Fatal("ListChanged was not called")
		}
		_, _ = u.Tools(ctx)
		if n := lists(); n != 3 {
			t.Fatalf("%d listings after list_changed, want 3", n)
		}
		u.Close()
	})
}

// TestServerRequests: the server's own requests reach Hooks.Request, and
// the answer goes back under the server's id; without the hook they are
// refused.
func TestServerRequests(t *testing.T) {
	sc := coretest.Demo()
	sc.Calls["ask"] = scripted.Call{Steps: []scripted.Step{
		{Request: json.RawMessage(`{"method":"roots/list","params":{}}`)},
		{Result: json.RawMessage(`{"content":[]}`)},
	}}
	var asked []string
	u, tr := start(t, sc, spec(), upstream.Hooks{Request: func(server, method string, id, params json.RawMessage, reply func(result, rpcErr json.RawMessage)) {
		asked = append(asked, server+" "+method)
		reply(json.RawMessage(`{"roots":[]}`), nil)
	}})
	if _, err := u.Request(context.Background(), "tools/call", call("ask")); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 1 || asked[0] != "up roots/list" {
		t.Fatalf("asked: %v", asked)
	}
	var answer string
	for _, m := range tr.Received("up") {
		if gjson.GetBytes(m, "id").Str == "s1" {
			answer = string(m)
		}
	}
	if answer != `{"jsonrpc":"2.0","id":"s1","result":{"roots":[]}}` {
		t.Errorf("the server got %s", answer)
	}

	u, tr = start(t, sc, spec(), upstream.Hooks{})
	if _, err := u.Request(context.Background(), "tools/call", call("ask")); err != nil {
		t.Fatal(err)
	}
	for _, m := range tr.Received("up") {
		if gjson.GetBytes(m, "id").Str == "s1" && gjson.GetBytes(m, "error.code").Int() != -32601 {
			t.Errorf("without a hook: %s", m)
		}
	}
}

// TestRecycleLetsCallsEnd: a session recycled for new credentials
// carries the requests in flight on it to their end (in the hub, other
// sessions' calls), while the next request opens a new session; the old
// one closes once it is idle.
func TestRecycleLetsCallsEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := coretest.Demo()
		sc.Calls["ask"] = scripted.Call{Steps: []scripted.Step{
			{Request: json.RawMessage(`{"method":"elicitation/create","params":{"message":"?"}}`)},
			{Result: json.RawMessage(`{"content":[{"type":"text","text":"answered"}]}`)},
		}}
		asked := make(chan func(result, rpcErr json.RawMessage), 1)
		u, tr := start(t, sc, spec(), upstream.Hooks{Request: func(_, _ string, _, _ json.RawMessage, reply func(result, rpcErr json.RawMessage)) {
			asked <- reply
		}})
		got := make(chan upstream.Reply, 1)
		u.Start(upstream.Call{Method: "tools/call", Params: call("ask"), Done: func(r upstream.Reply, err error) {
			if err != nil {
				t.Errorf("the call in flight when the session was recycled: %v", err)
			}
			got <- r
		}})
		reply := <-asked
		u.Recycle()
		if r, err := u.Request(context.Background(), "tools/call", call("add")); err != nil || r.Error != nil {
			t.Fatalf("a request after the recycle: %s %v", r.Error, err)
		}
		if n := tr.Opens("up"); n != 2 {
			t.Fatalf("%d sessions, want 2: the recycle opens a new one", n)
		}
		reply(json.RawMessage(`{"action":"accept","content":{}}`), nil)
		if r := <-got; !strings.Contains(string(r.Result), "answered") {
			t.Fatalf("the old session's call: %s", r.Result)
		}
	})
}

// TestRecycleDoesNotWaitForAListen: a held subscriptions/listen request
// lasts as long as its session; a recycle does not wait for it, and ends
// it (its owner listens again on the next session).
func TestRecycleDoesNotWaitForAListen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := coretest.Demo()
		sc.Held = map[string]bool{"subscriptions/listen": true}
		u, _ := start(t, sc, spec(), upstream.Hooks{})
		if _, err := u.Tools(context.Background()); err != nil {
			t.Fatal(err)
		}
		ended := make(chan error, 1)
		u.Start(upstream.Call{Method: "subscriptions/listen", Params: json.RawMessage(`{"notifications":{}}`), Done: func(_ upstream.Reply, err error) { ended <- err }})
		synctest.Wait()
		start := time.Now()
		u.Recycle()
		if err := <-ended; err == nil {
			t.Fatal("the listen request ended without an error")
		}
		if waited := time.Since(start); waited > time.Second {
			t.Fatalf("the recycle waited %v for a listen request", waited)
		}
	})
}

// TestCloseEndsARetiringSession: a recycled session still carrying a
// request ends with its upstream, not a request timeout later.
func TestCloseEndsARetiringSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := coretest.Demo()
		sc.Calls["sleep"] = scripted.Call{} // never answers
		u, _ := start(t, sc, spec(), upstream.Hooks{})
		if _, err := u.Tools(context.Background()); err != nil {
			t.Fatal(err)
		}
		ended := make(chan error, 1)
		u.Start(upstream.Call{Method: "tools/call", Params: call("sleep"), Done: func(_ upstream.Reply, err error) { ended <- err }})
		synctest.Wait()
		u.Recycle()
		synctest.Wait()
		start := time.Now()
		u.Close()
		if err := <-ended; err == nil {
			t.Fatal("the request ended without an error")
		}
		if waited := time.Since(start); waited > 5*time.Second {
			t.Fatalf("the request on the retiring session ended %v after Close", waited)
		}
	})
}
