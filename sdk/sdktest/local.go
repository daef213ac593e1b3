package sdktest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// Local returns a host's client that runs impl's sessions in this process
// without gRPC: frames pass through memory, in order, as the contract of
// sdk.TransportClient says they arrive. It is the plugin contract as the
// core sees it, with no sockets and no goroutine of its own, so a test of
// the core may run inside a testing/synctest bubble. Transport keeps the
// real gRPC path for testing a plugin.
func Local(impl sdk.Transport) sdk.TransportClient { return &localClient{impl: impl} }

type localClient struct{ impl sdk.Transport }

func (c *localClient) Open(ctx context.Context, spec sdk.SessionSpec) (sdk.ClientSession, error) {
	s := &localSession{wake: make(chan struct{}, 1), log: hclog.NewNullLogger()}
	sess, err := c.impl.Open(ctx, spec, s)
	if err != nil {
		var ee *sdk.EventError
		if errors.As(err, &ee) {
			return nil, &sdk.EventError{Event: ee.Event}
		}
		return nil, &sdk.ExitedError{Exited: sdk.Exited{ExitCode: -1, Reason: err.Error()}}
	}
	s.sess = sess
	if d, ok := sess.(sdk.ReadyDetailer); ok {
		s.ready.Detail = d.ReadyDetail()
	}
	return s, nil
}

// localSession is both ends of a session: the host's ClientSession and
// the plugin's Peer.
type localSession struct {
	sess  sdk.Session
	ready sdk.Ready
	log   hclog.Logger

	mu      sync.Mutex
	held    [][]byte // Hold's, until Flush
	frames  []sdk.Frame
	ended   bool // Exited was queued
	aborted bool
	wake    chan struct{}
}

// push queues a frame for Recv; nothing is queued after Exited.
func (s *localSession) push(f sdk.Frame) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.aborted {
		return fmt.Errorf("session ended")
	}
	if _, ok := f.Event.(sdk.Exited); ok {
		s.ended = true
	}
	s.frames = append(s.frames, f)
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// Deliver implements sdk.Peer; the messages are copied, as a frame would.
func (s *localSession) Deliver(msgs ...[]byte) error {
	cp := make([][]byte, len(msgs))
	for i, m := range msgs {
		cp[i] = append([]byte(nil), m...)
	}
	return s.push(sdk.Frame{Messages: cp})
}

// Event implements sdk.Peer.
func (s *localSession) Event(ev sdk.Event) error { return s.push(sdk.Frame{Event: ev}) }

// Logger implements sdk.Peer.
func (s *localSession) Logger() hclog.Logger { return s.log }

func (s *localSession) Ready() sdk.Ready { return s.ready }

// Send writes what is held first, as the direct data path does.
func (s *localSession) Send(msgs ...[]byte) error {
	s.mu.Lock()
	done := s.ended || s.aborted
	if len(s.held) > 0 {
		msgs = append(s.held, msgs...)
		s.held = nil
	}
	s.mu.Unlock()
	if done {
		return fmt.Errorf("session ended")
	}
	return s.sess.Send(context.Background(), msgs...)
}

// Hold implements sdk.Holder, as the direct data path does: the
// messages wait for Flush. The core's tests then see what a request held
// and never flushed does in production: it is never sent.
func (s *localSession) Hold(msgs ...[]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.aborted {
		return fmt.Errorf("session ended")
	}
	s.held = append(s.held, msgs...)
	return nil
}

// Flush implements sdk.Holder.
func (s *localSession) Flush() error {
	s.mu.Lock()
	empty := len(s.held) == 0
	s.mu.Unlock()
	if empty {
		return nil
	}
	return s.Send()
}

func (s *localSession) Recv() (sdk.Frame, error) {
	for {
		s.mu.Lock()
		if len(s.frames) > 0 {
			f := s.frames[0]
			s.frames = s.frames[1:]
			s.mu.Unlock()
			return f, nil
		}
		switch {
		case s.aborted:
			s.mu.Unlock()
			return sdk.Frame{}, context.Canceled
		case s.ended:
			s.mu.Unlock()
			return sdk.Frame{}, io.EOF
		}
		s.mu.Unlock()
		<-s.wake
	}
}

func (s *localSession) Close(grace time.Duration) error {
	go func() {
		ctx := context.Background()
		if grace > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, grace)
			defer cancel()
		}
		_ = s.sess.Close(ctx)
	}()
	return nil
}

func (s *localSession) Abort() {
	s.mu.Lock()
	s.aborted = true
	s.frames = nil
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	go func() { _ = s.sess.Close(ctx) }()
}
