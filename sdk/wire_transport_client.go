package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	transportv1 "github.com/ica-mcp-proxy/ica-mcp-proxy/proto/ica/transport/v1"
)

// transportPlugin is the go-plugin glue of the TransportService. On the
// plugin side impl is set; on the host side it is nil.
type transportPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl     Transport
	logger   hclog.Logger
	sessions *sessionSet
}

func (p *transportPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	transportv1.RegisterTransportServiceServer(s, &transportServer{impl: p.impl, logger: p.logger, sessions: p.sessions})
	return nil
}

func (p *transportPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &transportClient{client: transportv1.NewTransportServiceClient(c)}, nil
}

type transportClient struct {
	client transportv1.TransportServiceClient
}

type clientStream = grpc.BidiStreamingClient[transportv1.SessionRequest, transportv1.SessionResponse]

func (c *transportClient) Open(ctx context.Context, spec SessionSpec) (ClientSession, error) {
	// The stream outlives ctx, which bounds only the opening.
	streamCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stream, err := c.client.Session(streamCtx,
		grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("open session stream: %w", err)
	}
	s := &clientSession{stream: stream, cancel: cancel}
	if err := s.sendFrame(&transportv1.SessionRequest{Frame: &transportv1.SessionRequest_Open{Open: specToProto(spec)}}); err != nil {
		cancel()
		return nil, fmt.Errorf("send open frame: %w", err)
	}

	type first struct {
		frame Frame
		err   error
	}
	got := make(chan first, 1)
	go func() {
		// Before Ready or Exited, a plugin may report why it could not
		// start (AuthRequired, Unsupported); keep the first such event.
		var early Event
		for {
			f, err := s.Recv()
			if err == nil && f.Event != nil {
				switch f.Event.(type) {
				case Ready:
				case Exited:
					if early != nil {
						f.Event = early
					}
				default:
					if early == nil {
						early = f.Event
					}
					continue
				}
			}
			got <- first{f, err}
			return
		}
	}()
	select {
	case <-ctx.Done():
		cancel()
		return nil, ctx.Err()
	case r := <-got:
		if r.err != nil {
			cancel()
			if errors.Is(r.err, io.EOF) {
				return nil, errors.New("plugin ended the session before it was ready")
			}
			return nil, r.err
		}
		switch ev := r.frame.Event.(type) {
		case Ready:
			s.ready = ev
			return s, nil
		case Exited:
			cancel()
			return nil, &ExitedError{Exited: ev}
		case nil:
			cancel()
			return nil, errors.New("plugin sent messages before ready")
		default:
			cancel()
			return nil, &EventError{Event: ev}
		}
	}
}

type clientSession struct {
	stream clientStream
	cancel context.CancelFunc
	ready  Ready

	sendMu sync.Mutex // one stream.Send at a time

	// Messages waiting for the goroutine that is sending; see Send.
	queueMu  sync.Mutex
	queue    [][]byte
	flushing bool
	sendErr  error
}

func (s *clientSession) Ready() Ready { return s.ready }

func (s *clientSession) sendFrame(req *transportv1.SessionRequest) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	return s.stream.Send(req)
}

// Send queues msgs; the first sender to find no send under way sends
// everything queued, in frames, until the queue is empty. Under load the
// messages of concurrent callers share frames; alone, a message is sent at
// once by its own caller.
func (s *clientSession) Send(msgs ...[]byte) error {
	s.queueMu.Lock()
	if s.sendErr != nil {
		err := s.sendErr
		s.queueMu.Unlock()
		return err
	}
	s.queue = append(s.queue, msgs...)
	if s.flushing {
		s.queueMu.Unlock()
		return nil
	}
	s.flushing = true
	for len(s.queue) > 0 {
		batch := s.queue
		s.queue = nil
		s.queueMu.Unlock()
		err := s.sendFrame(&transportv1.SessionRequest{Frame: &transportv1.SessionRequest_Messages{
			Messages: &transportv1.Messages{Messages: batch},
		}})
		s.queueMu.Lock()
		if err != nil {
			// The stream is broken; Recv reports it to whoever waits.
			s.sendErr, s.queue = err, nil
		}
	}
	s.flushing = false
	err := s.sendErr
	s.queueMu.Unlock()
	return err
}

func (s *clientSession) Recv() (Frame, error) {
	resp, err := s.stream.Recv()
	if err != nil {
		return Frame{}, err
	}
	switch f := resp.GetFrame().(type) {
	case *transportv1.SessionResponse_Messages:
		return Frame{Messages: f.Messages.GetMessages()}, nil
	case *transportv1.SessionResponse_Event:
		return Frame{Event: eventFromProto(f.Event)}, nil
	}
	return Frame{}, fmt.Errorf("plugin sent an empty frame")
}

func (s *clientSession) Close(grace time.Duration) error {
	return s.sendFrame(&transportv1.SessionRequest{Frame: &transportv1.SessionRequest_Close{
		Close: &transportv1.Close{GraceMs: grace.Milliseconds()},
	}})
}

func (s *clientSession) Abort() { s.cancel() }
