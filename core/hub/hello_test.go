package hub_test

import (
	"encoding/binary"
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

	// A line longer than the reader's buffer (a status of many sessions)
	// reads whole; one over the protocol's bound is refused.
	big := strings.Repeat("s", 100<<10)
	go func() { _ = h.SendStatus(map[string]string{"sessions": big}) }()
	if st, err := f.ReadStatus(); err != nil || !strings.Contains(string(st), big) {
		t.Fatalf("a long status: %d bytes, %v", len(st), err)
	}
	go func() { _ = h.SendStatus(map[string]string{"sessions": strings.Repeat("s", 2<<20)}) }()
	if _, err := f.ReadStatus(); err == nil || !strings.Contains(err.Error(), "over") {
		t.Fatalf("an overlong status: %v", err)
	}
	_ = front.Close()
	_ = hubSide.Close()
	front, hubSide = net.Pipe()
	f, h = hub.NewConn(front), hub.NewConn(hubSide)

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
	framed := func(line string) string {
		return string(binary.BigEndian.AppendUint32(nil, uint32(len(line)))) + line
	}
	for _, c := range []struct{ line, want string }{
		{framed(`{"welcome":{"session":"x"}}` + "\n"), "not a hello"},
		{framed(`{"hello":{"cwd":"/"}}` + "\n"), "no version"},
		{framed(`{"hello":` + "\n"), "does not read"},
		{framed(`{"hello":{"version":"v"}}`), "does not end"},
		{framed(`{"hello":{"version":"v"}}`)[:10], "the hello: unexpected EOF"},
		{"{\"h", "the hello's length: unexpected EOF"},
		{`{"hello":{"version":"v"}}` + "\n", "over"}, // unframed: the length reads as ~2 GB
		{string(binary.BigEndian.AppendUint32(nil, 1<<21)), "over"},
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
