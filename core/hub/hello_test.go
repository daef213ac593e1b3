package hub_test

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/hub"
)

// The protocol end to end on a socket pair: hello, welcome or refusal,
// the end; and what a broken or hostile peer sends is an error naming it.
func TestProtocol(t *testing.T) {
	front, hubSide := net.Pipe()
	defer func() { _ = front.Close(); _ = hubSide.Close() }()
	f, h := hub.NewConn(front), hub.NewConn(hubSide)
	go func() {
		_ = f.SendHello(hub.Hello{Version: "v1", Cwd: "/p", Env: []string{"A=1"}})
	}()
	hello, err := hub.ReadHello(hubSide)
	if err != nil || hello.Cwd != "/p" || hello.Env[0] != "A=1" {
		t.Fatalf("hello: %+v %v", hello, err)
	}
	go func() { _ = h.Welcome(hub.Welcome{Session: "s1", PID: 42}) }()
	if w, err := f.ReadWelcome(); err != nil || w.Session != "s1" {
		t.Fatalf("welcome: %+v %v", w, err)
	}
	go func() {
		_ = h.SendState(hub.SessionState{Initialize: json.RawMessage(`{"method":"initialize"}`)})
		_ = h.End(hub.Ended{Error: "the client went away"})
	}()
	var kept hub.SessionState
	if e, err := f.WaitEnd(func(st hub.SessionState) { kept = st }); err != nil || e.Error != "the client went away" {
		t.Fatalf("end: %+v %v", e, err)
	}
	if string(kept.Initialize) != `{"method":"initialize"}` {
		t.Fatalf("the front kept %s", kept.Initialize)
	}

	// A refusal comes back as a *Refusal.
	go func() { _ = h.Refuse("the hub is v2; this front is v1") }()
	var r *hub.Refusal
	if _, err := f.ReadWelcome(); !errors.As(err, &r) || !strings.Contains(r.Why, "v2") {
		t.Fatalf("refusal: %v", err)
	}
	// A hub that dies mid-session: the front says so.
	_ = hubSide.Close()
	if _, err := f.WaitEnd(func(hub.SessionState) {}); !errors.Is(err, hub.ErrHubGone) || !strings.Contains(err.Error(), "died") {
		t.Fatalf("a dead hub: %v", err)
	}
}

func TestBadHellos(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{`{"welcome":{"session":"x"}}` + "\n", "not a hello"},
		{`{"hello":{"cwd":"/"}}` + "\n", "no version"},
		{`{"hello":` + "\n", "does not read"},
		{strings.Repeat("x", 1<<21), "over"},
	} {
		a, b := net.Pipe()
		go func() { _, _ = io.WriteString(a, c.line); _ = a.Close() }()
		_, err := hub.ReadHello(b)
		_ = b.Close()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.40q: %v, want %q", c.line, err, c.want)
		}
	}
}
