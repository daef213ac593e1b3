package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	transportv1 "github.com/ica-mcp-proxy/ica-mcp-proxy/proto/ica/transport/v1"
)

// closeTimeout bounds how long the sdk waits for a session to report Exited
// after the host went away without a Close frame.
const closeTimeout = 10 * time.Second

// defaultCloseGrace is the time a session gets to shut its upstream down
// when the host names none.
const defaultCloseGrace = 3 * time.Second

// transportServer adapts a Transport to the TransportService.
type transportServer struct {
	transportv1.UnimplementedTransportServiceServer
	impl     Transport
	logger   hclog.Logger
	sessions *sessionSet
	// channel passes data-path descriptors to the host; nil: the host
	// gave none, and messages travel on the stream.
	channel *FDChannel
}

type sessionStream = grpc.BidiStreamingServer[transportv1.SessionRequest, transportv1.SessionResponse]

func (s *transportServer) Session(stream sessionStream) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	open := first.GetOpen()
	if open == nil {
		return status.Error(codes.InvalidArgument, "the first frame of a session must be open")
	}
	spec := specFromProto(open)
	sp := newStreamPeer(stream, s.logger.Named(logName(spec.Server)))
	var p Peer = sp
	fail := func(err error) error {
		sp.release() // what the session reported while it opened goes first
		var ee *EventError
		if errors.As(err, &ee) && ee.Event != nil {
			_ = p.Event(ee.Event)
		}
		_ = p.Event(Exited{ExitCode: -1, Reason: "could not start: " + err.Error()})
		sp.finish()
		return nil
	}
	// abandon shuts down a session whose descriptors could not reach the
	// host; it reports Exited, which ends the stream.
	abandon := func(sess Session) error {
		go func() { _ = sess.Close(context.Background()) }()
		<-sp.exited
		sp.release()
		sp.finish()
		return nil
	}

	// The data path: off the stream when the host offers a token and this
	// process has a descriptor channel to pass descriptors on.
	path := transportv1.DataPath_DATA_PATH_STREAM_UNSPECIFIED
	token := open.GetDataToken()
	var sess Session
	var framesIn io.Reader
	switch pt, piped := s.impl.(PipeTransport); {
	case token != "" && s.channel != nil && piped:
		var in, out *os.File
		sess, in, out, err = pt.OpenPipe(stream.Context(), spec, p)
		if err != nil {
			return fail(err)
		}
		err = s.channel.send(token, in, out)
		// The output is the host's alone. The input stays open here too,
		// until the session's Close closes it: the upstream sees the end of
		// its input only once the session has heard of the shutdown, so an
		// exit the host's Close causes is reported as "closed by host".
		_ = out.Close()
		if err != nil {
			// The session reads nothing itself: without the host, it is no
			// use.
			return abandon(sess)
		}
		path = transportv1.DataPath_DATA_PATH_LINES
	case token != "" && s.channel != nil:
		conn, hostEnd, err := newFramesPair()
		if err != nil {
			return fail(fmt.Errorf("data path: %w", err))
		}
		fp := &framesPeer{streamPeer: sp, conn: conn, w: batchWriter{w: conn, encode: appendFrames}}
		p = fp
		if sess, err = s.impl.Open(stream.Context(), spec, p); err != nil {
			_ = conn.Close()
			_ = hostEnd.Close()
			return fail(err)
		}
		err = s.channel.send(token, hostEnd)
		_ = hostEnd.Close()
		if err != nil {
			_ = conn.Close()
			return abandon(sess)
		}
		framesIn = conn
		path = transportv1.DataPath_DATA_PATH_FRAMES
	default:
		if sess, err = s.impl.Open(stream.Context(), spec, p); err != nil {
			return fail(err)
		}
	}
	var detail string
	if d, ok := sess.(ReadyDetailer); ok {
		detail = d.ReadyDetail()
	}
	sp.sendReady(Ready{Detail: detail, dataPath: path})
	if framesIn != nil {
		go serveFrames(stream.Context(), framesIn, sess, sp.logger)
	}

	closer := s.sessions.add(sess)
	defer s.sessions.remove(closer)

	hostGone := make(chan struct{})
	go func() {
		defer close(hostGone)
		for {
			req, err := stream.Recv()
			if err != nil {
				return
			}
			switch f := req.GetFrame().(type) {
			case *transportv1.SessionRequest_Messages:
				if err := sess.Send(stream.Context(), f.Messages.GetMessages()...); err != nil {
					sp.logger.Debug("send to upstream failed", "error", err)
				}
			case *transportv1.SessionRequest_Close:
				grace := time.Duration(f.Close.GetGraceMs()) * time.Millisecond
				go closer.close(grace)
			}
		}
	}()

	select {
	case <-sp.exited:
	case <-hostGone:
		// The host ended the stream or vanished: shut the upstream down.
		go closer.close(0)
		select {
		case <-sp.exited:
		case <-time.After(closeTimeout):
			sp.logger.Warn("session did not report its exit after close")
		}
	}
	sp.finish()
	return nil
}

// streamPeer is the Peer handed to a session: it writes frames to the gRPC
// stream, which allows one sender at a time.
type streamPeer struct {
	logger hclog.Logger

	mu       sync.Mutex
	stream   sessionStream
	done     bool
	ready    chan struct{}
	exited   chan struct{}
	exitOnce sync.Once
	// While Open runs, events wait in held (holding): an upstream that
	// exits at once must not report Exited before Ready (the host would
	// take the session for one that never opened). Ready, or the failure
	// of Open, sends them.
	holding bool
	held    []Event
}

func newStreamPeer(stream sessionStream, logger hclog.Logger) *streamPeer {
	return &streamPeer{
		logger:  logger,
		stream:  stream,
		ready:   make(chan struct{}),
		exited:  make(chan struct{}),
		holding: true,
	}
}

// release sends the events held while Open ran, in order, and stops
// holding; events that come meanwhile follow the held ones.
func (p *streamPeer) release() {
	for {
		p.mu.Lock()
		batch := p.held
		p.held = nil
		if len(batch) == 0 {
			p.holding = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		for _, ev := range batch {
			_ = p.send(&transportv1.SessionResponse{Frame: &transportv1.SessionResponse_Event{Event: eventToProto(ev)}})
		}
	}
}

var errSessionEnded = errors.New("session ended")

func (p *streamPeer) send(resp *transportv1.SessionResponse) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return errSessionEnded
	}
	return p.stream.Send(resp)
}

func (p *streamPeer) sendReady(r Ready) {
	_ = p.send(&transportv1.SessionResponse{Frame: &transportv1.SessionResponse_Event{
		Event: eventToProto(r),
	}})
	close(p.ready)
	p.release()
}

// Deliver waits for Ready to be sent, so a message the upstream writes while
// Open is still running never overtakes it.
func (p *streamPeer) Deliver(msgs ...[]byte) error {
	if len(msgs) == 0 {
		return nil
	}
	select {
	case <-p.ready:
	case <-p.exited:
		return errSessionEnded
	}
	return p.send(&transportv1.SessionResponse{Frame: &transportv1.SessionResponse_Messages{
		Messages: &transportv1.Messages{Messages: msgs},
	}})
}

func (p *streamPeer) Event(ev Event) error {
	if _, ok := ev.(Ready); ok {
		return errors.New("sdk: Ready is sent by the sdk when Open returns")
	}
	p.mu.Lock()
	if p.holding {
		p.held = append(p.held, ev)
		p.mu.Unlock()
		if _, ok := ev.(Exited); ok {
			p.exitOnce.Do(func() { close(p.exited) })
		}
		return nil
	}
	p.mu.Unlock()
	err := p.send(&transportv1.SessionResponse{Frame: &transportv1.SessionResponse_Event{Event: eventToProto(ev)}})
	if _, ok := ev.(Exited); ok {
		p.exitOnce.Do(func() { close(p.exited) })
	}
	return err
}

func (p *streamPeer) Logger() hclog.Logger { return p.logger }

// finish stops all further sends: the stream must not be used once the
// handler has returned.
func (p *streamPeer) finish() {
	p.mu.Lock()
	p.done = true
	p.mu.Unlock()
	p.exitOnce.Do(func() { close(p.exited) })
}

// sessionSet tracks the live sessions of a plugin process, so that they can
// all be shut down when the host goes away.
type sessionSet struct {
	mu  sync.Mutex
	set map[*sessionCloser]struct{}
}

func newSessionSet() *sessionSet {
	return &sessionSet{set: make(map[*sessionCloser]struct{})}
}

// sessionCloser closes a session. Every request to close reaches the
// session, even while an earlier one is still under way: a shutdown with a
// short grace must not wait behind a close with a long one.
type sessionCloser struct {
	sess Session
}

func (c *sessionCloser) close(grace time.Duration) {
	if grace <= 0 {
		grace = defaultCloseGrace
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	_ = c.sess.Close(ctx)
}

func (s *sessionSet) add(sess Session) *sessionCloser {
	c := &sessionCloser{sess: sess}
	s.mu.Lock()
	s.set[c] = struct{}{}
	s.mu.Unlock()
	return c
}

func (s *sessionSet) remove(c *sessionCloser) {
	s.mu.Lock()
	delete(s.set, c)
	s.mu.Unlock()
}

// closeAll shuts every live session down concurrently and waits, at most
// grace plus a little, for them to finish.
func (s *sessionSet) closeAll(grace time.Duration) {
	s.mu.Lock()
	closers := make([]*sessionCloser, 0, len(s.set))
	for c := range s.set {
		closers = append(closers, c)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range closers {
		wg.Go(func() { c.close(grace) })
	}
	wg.Wait()
}
