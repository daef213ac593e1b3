package sdk

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/lines"
	transportv1 "github.com/ica-mcp-proxy/ica-mcp-proxy/proto/ica/transport/v1"
)

// The data plane. A session's lifecycle (Open, Ready, Exited, Close) always
// travels on its gRPC stream; its JSON-RPC messages may leave it, when the
// host gave the plugin process a descriptor channel:
//
//   - DATA_PATH_LINES, for a PipeTransport: the host gets the upstream's
//     input and output themselves and reads and writes newline-delimited
//     JSON-RPC, as a plain relay would. The plugin only supervises.
//   - DATA_PATH_FRAMES, for any other transport: the host gets one end of
//     a stream socket pair, and messages cross it length-prefixed, with no
//     HTTP/2, TLS or protobuf on the way.
//
// Either way the host reads on one goroutine and hands messages to Recv in
// the batches they arrived in, and Exited is handed over only once the
// reader has seen the end of the upstream's output (bounded by
// drainLimit), so every message the upstream wrote before it exited comes
// first. A broken stream (the plugin died) ends the session at once.

// drainLimit bounds how long the host waits, after Exited (or a broken
// plugin), for the rest of the upstream's output: a descendant that
// escaped the upstream's process group could hold it open for ever.
const drainLimit = time.Second

// newDataToken is a session's tag on the descriptor channel.
func newDataToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sendQueue sends messages in batches: the first sender to find no send
// under way sends everything queued until the queue is empty. Under load
// the messages of concurrent callers share a batch (a frame, a write);
// alone, a message is sent at once by its own caller.
type sendQueue struct {
	flush func(batch [][]byte) error

	mu       sync.Mutex
	queue    [][]byte
	flushing bool
	err      error
}

// hold queues msgs for the next send.
func (q *sendQueue) hold(msgs ...[]byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	q.queue = append(q.queue, msgs...)
	return nil
}

// send writes msgs after whatever is queued; with no msgs it writes what
// is queued (a flush).
func (q *sendQueue) send(msgs ...[]byte) error {
	q.mu.Lock()
	if q.err != nil {
		err := q.err
		q.mu.Unlock()
		return err
	}
	q.queue = append(q.queue, msgs...)
	if q.flushing {
		q.mu.Unlock()
		return nil
	}
	q.flushing = true
	for len(q.queue) > 0 {
		batch := q.queue
		q.queue = nil
		q.mu.Unlock()
		err := q.flush(batch)
		q.mu.Lock()
		if err != nil {
			// Broken for good; whoever reads learns why.
			q.err, q.queue = err, nil
		}
	}
	q.flushing = false
	err := q.err
	q.mu.Unlock()
	return err
}

// appendLines is msgs as stdio carries them: each followed by a newline.
func appendLines(buf []byte, msgs [][]byte) []byte {
	for _, m := range msgs {
		buf = append(append(buf, m...), '\n')
	}
	return buf
}

// appendFrames is msgs as DATA_PATH_FRAMES carries them.
func appendFrames(buf []byte, msgs [][]byte) []byte {
	for _, m := range msgs {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(m)))
		buf = append(buf, m...)
	}
	return buf
}

// batchWriter writes batches to w in one write each, through a buffer it
// keeps unless a batch made it large.
type batchWriter struct {
	w      io.Writer
	encode func([]byte, [][]byte) []byte
	buf    []byte
}

func (b *batchWriter) write(batch [][]byte) error {
	b.buf = b.encode(b.buf[:0], batch)
	_, err := b.w.Write(b.buf)
	if cap(b.buf) > 1<<20 {
		b.buf = nil // do not pin a huge buffer
	}
	return err
}

// errFrameTooLong ends a frames reader: the other side is broken.
var errFrameTooLong = errors.New("frame longer than the message bound")

// readFrames calls fn with the messages of r, length-prefixed, in the
// batches they arrived in (every message already read when the next read
// would wait), until r ends (nil) or breaks. A length over max ends it.
// fn may keep the slices.
func readFrames(r io.Reader, max int, fn func([][]byte)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var batch [][]byte
	var head [4]byte
	// What was read whole goes on, whatever ends the stream.
	end := func(err error) error {
		if len(batch) > 0 {
			fn(batch)
		}
		return err
	}
	for {
		if _, err := io.ReadFull(br, head[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return end(nil)
			}
			return end(err)
		}
		n := binary.BigEndian.Uint32(head[:])
		if uint64(n) > uint64(max) {
			return end(fmt.Errorf("%w: %d bytes", errFrameTooLong, n))
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(br, msg); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return end(err)
		}
		if len(msg) > 0 {
			batch = append(batch, msg)
		}
		if len(batch) > 0 && !frameBuffered(br) {
			fn(batch) // the next read may wait: hand over what we have
			batch = nil
		}
	}
}

// frameBuffered reports whether the next frame is all in br's buffer, so
// reading it will not wait.
func frameBuffered(br *bufio.Reader) bool {
	if br.Buffered() < 4 {
		return false
	}
	head, _ := br.Peek(4)
	return uint64(br.Buffered()-4) >= uint64(binary.BigEndian.Uint32(head))
}

// directSession is the host's end of a session whose messages travel off
// the gRPC stream; the stream still carries its events and Close.
type directSession struct {
	*clientSession
	in     io.WriteCloser
	out    io.ReadCloser
	linesP bool // DATA_PATH_LINES, else FRAMES
	q      sendQueue
	logger hclog.Logger

	frames   chan recvd
	readDone chan struct{}
	// onMessages, when set (SetMessageHandler), gets the upstream's
	// messages on the reader's own goroutine instead of Recv's caller.
	onMessages func([][]byte)
	startRead  sync.Once

	mu    sync.Mutex
	ended bool // Exited or an error was handed over; nothing follows

	closeInOnce sync.Once
}

type recvd struct {
	f   Frame
	err error
}

func newDirectSession(cs *clientSession, path transportv1.DataPath, in io.WriteCloser, out io.ReadCloser, logger hclog.Logger) *directSession {
	s := &directSession{
		clientSession: cs,
		in:            in,
		out:           out,
		linesP:        path == transportv1.DataPath_DATA_PATH_LINES,
		logger:        logger,
		frames:        make(chan recvd, 16),
		readDone:      make(chan struct{}),
	}
	bw := &batchWriter{w: in, encode: appendFrames}
	if s.linesP {
		bw.encode = appendLines
	}
	s.q.flush = bw.write
	go s.events()
	return s
}

// MessageHandler is a ClientSession that can hand the upstream's messages
// to fn on the goroutine that reads them, saving a hand-off to the
// goroutine that calls Recv: on the direct data path a call's answer then
// goes from the upstream's output to the client with no goroutine between.
// Recv still returns the events, in order after the messages that came
// before them.
type MessageHandler interface {
	// SetMessageHandler must be called before the first Recv. fn is called
	// from one goroutine, in order; it may keep the slices.
	SetMessageHandler(fn func(msgs [][]byte))
}

// OutputWatcher is a ClientSession that reads the upstream's output
// itself (the direct data path) and can tell when it ended: the upstream
// closed it, or is gone, and will answer nothing more, though its Exited
// (or the plugin's failure) may take a moment to follow.
type OutputWatcher interface {
	OutputEnded() <-chan struct{}
}

func (s *directSession) OutputEnded() <-chan struct{} { return s.readDone }

func (s *directSession) SetMessageHandler(fn func([][]byte)) {
	s.onMessages = fn
	s.startRead.Do(func() { go s.read() })
}

// put hands r to Recv. The lock is held through the send, so that nothing
// is sent after the last frame (Exited, or an error) closed the channel.
func (s *directSession) put(r recvd) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.frames <- r
	if r.err != nil || (r.f.Event != nil && isExited(r.f.Event)) {
		s.ended = true
		close(s.frames)
	}
}

func isExited(ev Event) bool { _, ok := ev.(Exited); return ok }

// read hands on the upstream's messages until its output ends.
func (s *directSession) read() {
	defer close(s.readDone)
	deliver := func(msgs [][]byte) {
		if s.onMessages != nil {
			s.onMessages(msgs)
		} else {
			s.put(recvd{f: Frame{Messages: msgs}})
		}
	}
	if s.linesP {
		// As the stdio plugin reads it (banners dropped, overlong answers
		// replaced by an error).
		lines.Messages(s.out, MaxMessageBytes, deliver, s.logger)
		return
	}
	if err := readFrames(s.out, MaxMessageBytes, deliver); err != nil {
		s.logger.Warn("the plugin's message stream broke", "error", err)
	}
}

// events hands on the stream's events; Exited, or the stream's end, only
// after the upstream's output has been read to its end.
func (s *directSession) events() {
	for {
		f, err := s.clientSession.Recv()
		if err == nil && f.Event == nil {
			s.put(recvd{f: f}) // messages on the stream: not expected, passed on
			continue
		}
		if err == nil {
			// Exited, and the events that end a session (AuthRequired,
			// SessionExpired, Unsupported; Exited follows each): what the
			// upstream wrote before comes first. The plugin ends the
			// output before it sends Exited.
			select {
			case <-s.readDone:
			case <-time.After(drainLimit):
				s.logger.Debug("the upstream's output did not end with the session; not waiting for the rest")
			}
			if !isExited(f.Event) {
				s.put(recvd{f: f})
				continue
			}
		}
		// A broken stream (the plugin died) ends the session at once, as on
		// the stream path: the calls in flight fail naming the plugin, and
		// the next call starts a fresh session rather than going to an
		// upstream its plugin's death is terminating.
		s.put(recvd{f: f, err: err})
		_ = s.out.Close()
		s.closeIn()
		return
	}
}

func (s *directSession) Recv() (Frame, error) {
	s.startRead.Do(func() { go s.read() })
	r, ok := <-s.frames
	if !ok {
		return Frame{}, io.EOF
	}
	return r.f, r.err
}

func (s *directSession) Send(msgs ...[]byte) error { return s.q.send(msgs...) }

// Holder is a ClientSession that can hold messages back and write them
// together later: a reader that routes several messages from one read
// holds each and flushes once, so the upstream gets them in one write, as
// a byte relay would have written them. Another Send, from anyone, writes
// what is held first; nothing held overtakes or is overtaken.
type Holder interface {
	// Hold queues msgs without writing them. It fails once the session
	// is broken, as Send would.
	Hold(msgs ...[]byte) error
	// Flush writes what is held. It must follow every Hold soon: held
	// messages wait for it (or for the next Send).
	Flush() error
}

func (s *directSession) Hold(msgs ...[]byte) error { return s.q.hold(msgs...) }
func (s *directSession) Flush() error              { return s.q.send() }

func (s *directSession) closeIn() { s.closeInOnce.Do(func() { _ = s.in.Close() }) }

// Close asks the plugin to shut the upstream down. For a piped upstream
// the host's copy of its input is closed too, after the request: the
// upstream sees its input end once the plugin closes its own copy, the
// first step of its shutdown.
func (s *directSession) Close(grace time.Duration) error {
	err := s.clientSession.Close(grace)
	if s.linesP {
		s.closeIn()
	}
	return err
}

func (s *directSession) Abort() {
	s.clientSession.Abort()
	s.closeIn()
	_ = s.out.Close()
}

// framesPeer is the plugin's side of DATA_PATH_FRAMES: what the upstream
// sends goes to the socket instead of the stream.
type framesPeer struct {
	*streamPeer
	conn io.WriteCloser
	w    batchWriter
	mu   sync.Mutex
	shut bool
}

func (p *framesPeer) Deliver(msgs ...[]byte) error {
	if len(msgs) == 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shut {
		return errSessionEnded
	}
	return p.w.write(msgs)
}

// Event closes the socket before Exited goes out, so that the host has
// read every message once it sees the socket end.
func (p *framesPeer) Event(ev Event) error {
	if isExited(ev) {
		p.mu.Lock()
		if !p.shut {
			p.shut = true
			_ = p.conn.Close()
		}
		p.mu.Unlock()
	}
	return p.streamPeer.Event(ev)
}

// serveFrames passes the host's messages from the socket to the session,
// until the socket ends.
func serveFrames(ctx context.Context, r io.Reader, sess Session, logger hclog.Logger) {
	err := readFrames(r, MaxMessageBytes, func(msgs [][]byte) {
		if err := sess.Send(ctx, msgs...); err != nil {
			logger.Debug("send to upstream failed", "error", err)
		}
	})
	if err != nil {
		logger.Debug("the host's message stream ended", "error", err)
	}
}

// DataPathOf says where a session's messages travel: "lines" (the host
// reads and writes the upstream's own pipes), "frames" (a socket pair
// beside the plugin's stream) or "stream" (the plugin's gRPC stream).
func DataPathOf(cs ClientSession) string {
	d, ok := cs.(*directSession)
	switch {
	case !ok:
		return "stream"
	case d.linesP:
		return "lines"
	default:
		return "frames"
	}
}
