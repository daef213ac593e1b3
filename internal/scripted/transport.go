package scripted

import (
	"context"
	"fmt"
	"sync"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// Transport is an sdk.Transport whose sessions are scripted servers,
// in-process: a session plays Scripts[spec.Server] whatever the command,
// and keeps every message it receives (Received). It provides "stdio", so
// a configuration's command entries open it.
type Transport struct {
	mu       sync.Mutex
	scripts  map[string]Script
	received map[string][][]byte
	opens    map[string]int
	gates    map[string]chan struct{}
}

// NewTransport serves the scripts, by server name.
func NewTransport(scripts map[string]Script) *Transport {
	return &Transport{scripts: scripts, received: map[string][][]byte{}, opens: map[string]int{}, gates: map[string]chan struct{}{}}
}

// Gate makes the server's sessions slow to start: Open waits until open
// is called (or its context ends), as a server busy installing itself
// would keep its first answer back. Call it before the proxy starts.
func (t *Transport) Gate(server string) (open func()) {
	ch := make(chan struct{})
	t.mu.Lock()
	t.gates[server] = ch
	t.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

// Info implements sdk.Transport.
func (t *Transport) Info() sdk.Info {
	return sdk.Info{Names: []string{"stdio"}, Version: "test", Description: "scripted MCP servers, in-process"}
}

// Received is every message the server's sessions received, in order.
func (t *Transport) Received(server string) [][]byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([][]byte(nil), t.received[server]...)
}

// Opens is how many sessions the server has had.
func (t *Transport) Opens(server string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.opens[server]
}

// Open implements sdk.Transport.
func (t *Transport) Open(ctx context.Context, spec sdk.SessionSpec, peer sdk.Peer) (sdk.Session, error) {
	t.mu.Lock()
	sc, ok := t.scripts[spec.Server]
	if ok {
		t.opens[spec.Server]++
	}
	gate := t.gates[spec.Server]
	t.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("no script for server %q", spec.Server)
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	s := &session{t: t, server: spec.Server, peer: peer}
	s.player = NewPlayer(sc, s.deliver, func(code int) { s.end(sdk.Exited{ExitCode: code, Reason: "the script exited"}) })
	return s, nil
}

type session struct {
	t      *Transport
	server string
	peer   sdk.Peer
	player *Player

	mu     sync.Mutex
	exited bool
}

func (s *session) deliver(msg []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.exited {
		_ = s.peer.Deliver(msg)
	}
}

// end reports the session's end, once; nothing is delivered after it.
func (s *session) end(ev sdk.Exited) {
	s.mu.Lock()
	if s.exited {
		s.mu.Unlock()
		return
	}
	s.exited = true
	s.mu.Unlock()
	s.player.Stop()
	_ = s.peer.Event(ev)
}

func (s *session) Send(_ context.Context, msgs ...[]byte) error {
	s.mu.Lock()
	if s.exited {
		s.mu.Unlock()
		return fmt.Errorf("session ended")
	}
	s.mu.Unlock()
	for _, m := range msgs {
		s.t.mu.Lock()
		s.t.received[s.server] = append(s.t.received[s.server], append([]byte(nil), m...))
		s.t.mu.Unlock()
		s.player.Handle(m)
	}
	return nil
}

func (s *session) Close(context.Context) error {
	s.end(sdk.Exited{ExitCode: 0, Reason: "closed"})
	return nil
}
