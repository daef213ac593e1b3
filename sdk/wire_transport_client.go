package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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
	// channel is this process's end of the descriptor channel, if any.
	channel *FDChannel
}

func (p *transportPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	transportv1.RegisterTransportServiceServer(s, &transportServer{impl: p.impl, logger: p.logger, sessions: p.sessions, channel: p.channel})
	return nil
}

func (p *transportPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &transportClient{client: transportv1.NewTransportServiceClient(c)}, nil
}

type transportClient struct {
	client transportv1.TransportServiceClient
	// channel receives the descriptors of sessions whose messages leave
	// the stream; nil: they all stay on it.
	channel *FDChannel
	logger  hclog.Logger
}

// DispenseTransportOver is DispenseTransport for a plugin process that was
// given the other end of ch: its sessions' messages travel off the gRPC
// stream when the plugin can pass them (see DataPath). logger gets what
// the host's reader has to say (an upstream's banners, say).
func DispenseTransportOver(c plugin.ClientProtocol, ch *FDChannel, logger hclog.Logger) (TransportClient, error) {
	tc, err := DispenseTransport(c)
	if err != nil {
		return nil, err
	}
	t := tc.(*transportClient)
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &transportClient{client: t.client, channel: ch, logger: logger}, nil
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
	s.q.flush = s.sendMessages
	open := specToProto(spec)
	if c.channel != nil {
		open.DataToken = newDataToken()
	}
	if err := s.sendFrame(&transportv1.SessionRequest{Frame: &transportv1.SessionRequest_Open{Open: open}}); err != nil {
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
			if ev.dataPath == transportv1.DataPath_DATA_PATH_STREAM_UNSPECIFIED {
				return s, nil
			}
			return c.direct(ctx, s, open.DataToken, ev.dataPath, spec.Server)
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

// direct takes the descriptors of a session whose messages leave the
// stream.
func (c *transportClient) direct(ctx context.Context, s *clientSession, token string, path transportv1.DataPath, server string) (ClientSession, error) {
	fail := func(err error) (ClientSession, error) {
		// The plugin shuts the upstream down when the stream goes.
		s.cancel()
		return nil, err
	}
	if c.channel == nil || token == "" {
		return fail(fmt.Errorf("the plugin chose data path %v, which the host did not offer", path))
	}
	n := 1
	if path == transportv1.DataPath_DATA_PATH_LINES {
		n = 2
	} else if path != transportv1.DataPath_DATA_PATH_FRAMES {
		return fail(fmt.Errorf("the plugin chose data path %v, which this host does not know", path))
	}
	// They were sent before Ready: a plugin that says otherwise is broken.
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	files, err := c.channel.receive(rctx, token, n)
	if err != nil {
		return fail(err)
	}
	logger := c.logger.Named(logName(server))
	logger.Debug("the session's messages travel off the gRPC stream", "data_path", path)
	if n == 2 {
		return newDirectSession(s, path, files[0], files[1], logger), nil
	}
	conn, err := net.FileConn(files[0])
	_ = files[0].Close()
	if err != nil {
		return fail(fmt.Errorf("data path: %w", err))
	}
	return newDirectSession(s, path, conn, conn, logger), nil
}

type clientSession struct {
	stream clientStream
	cancel context.CancelFunc
	ready  Ready

	sendMu sync.Mutex // one stream.Send at a time

	// Messages waiting for the goroutine that is sending; see Send.
	q sendQueue
}

func (s *clientSession) Ready() Ready { return s.ready }

func (s *clientSession) sendFrame(req *transportv1.SessionRequest) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	return s.stream.Send(req)
}

// Send sends msgs in Messages frames; the messages of concurrent callers
// share frames (sendQueue).
func (s *clientSession) Send(msgs ...[]byte) error { return s.q.send(msgs...) }

func (s *clientSession) sendMessages(batch [][]byte) error {
	return s.sendFrame(&transportv1.SessionRequest{Frame: &transportv1.SessionRequest_Messages{
		Messages: &transportv1.Messages{Messages: batch},
	}})
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
