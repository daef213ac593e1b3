package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/hubsock"
)

// SessionFunc serves one front's session: its client's messages on in,
// the session's on out, the front's folder and environment in hello, and
// the front's stderr as logs (nil for a relayed session: its logs stay in
// the hub's). It returns when in ends or ctx does.
type SessionFunc func(ctx context.Context, hello Hello, in io.Reader, out, logs io.Writer) error

// Server is the hub's side: it takes fronts on a listener and serves
// each one's session, until it has had none for Linger.
type Server struct {
	// Version is the hub's build; a front of another version is refused.
	Version string
	Session SessionFunc
	// Linger is how long the hub stays with no session (upstreams warm
	// for the next); 0 means it stays until ctx ends.
	Linger time.Duration
	Log    hclog.Logger
	// Status, when set, adds to what a status control is answered (the
	// shared upstreams, say).
	Status func() any

	started  time.Time
	stop     context.CancelFunc
	sessions sync.Map // id → SessionInfo
	active   atomic.Int64
	next     atomic.Int64
	idle     chan struct{} // signalled when the last session ends
	once     sync.Once
}

// SessionInfo is one session, for hub status.
type SessionInfo struct {
	ID      string    `json:"id"`
	Cwd     string    `json:"cwd"`
	Started time.Time `json:"started"`
	Relay   bool      `json:"relay,omitempty"`
}

// StatusReport is the hub's answer to a status control.
type StatusReport struct {
	PID      int           `json:"pid"`
	Version  string        `json:"version"`
	Started  time.Time     `json:"started"`
	Linger   string        `json:"linger"`
	Sessions []SessionInfo `json:"sessions"`
	More     any           `json:"more,omitempty"`
}

func (s *Server) report() StatusReport {
	r := StatusReport{PID: os.Getpid(), Version: s.Version, Started: s.started, Linger: s.Linger.String(), Sessions: []SessionInfo{}}
	s.sessions.Range(func(_, v any) bool {
		r.Sessions = append(r.Sessions, v.(SessionInfo))
		return true
	})
	sort.Slice(r.Sessions, func(i, j int) bool { return r.Sessions[i].Started.Before(r.Sessions[j].Started) })
	if s.Status != nil {
		r.More = s.Status()
	}
	return r
}

func (s *Server) init() {
	s.once.Do(func() {
		s.started = time.Now()
		s.idle = make(chan struct{}, 1)
		if s.Log == nil {
			s.Log = hclog.NewNullLogger()
		}
	})
}

// Serve accepts fronts on l until ctx ends, or the hub has lingered
// with no session; then it closes l and waits for the sessions still
// open.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	s.init()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.stop = cancel
	var wg sync.WaitGroup
	defer wg.Wait()
	go func() {
		<-ctx.Done()
		_ = l.Close()
	}()
	if s.Linger > 0 {
		go s.lingerThenStop(ctx, cancel)
	}
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("hub: %w", err)
		}
		s.active.Add(1)
		wg.Go(func() {
			defer s.ended()
			s.serve(ctx, c)
		})
	}
}

// ended counts a session's end, and starts the linger when it was the
// last.
func (s *Server) ended() {
	if s.active.Add(-1) == 0 {
		select {
		case s.idle <- struct{}{}:
		default:
		}
	}
}

// lingerThenStop stops the hub once it has had no session for Linger.
func (s *Server) lingerThenStop(ctx context.Context, stop func()) {
	timer := time.NewTimer(s.Linger)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.idle:
			timer.Reset(s.Linger)
		case <-timer.C:
			if s.active.Load() == 0 {
				s.Log.Info("no session for a while; the hub stops", "linger", s.Linger)
				stop()
				return
			}
			timer.Reset(s.Linger)
		}
	}
}

// helloWait is how long a front has to say its hello.
const helloWait = 10 * time.Second

// serve runs one front's session on c.
func (s *Server) serve(ctx context.Context, c net.Conn) {
	defer func() { _ = c.Close() }()
	// A peer that says nothing holds no session, nor the hub up.
	_ = c.SetReadDeadline(time.Now().Add(helloWait))
	hello, err := ReadHello(c)
	_ = c.SetReadDeadline(time.Time{})
	pc := NewConn(c)
	if err != nil {
		s.Log.Warn("a front that does not speak the hub's protocol", "error", err)
		_ = pc.Refuse(err.Error())
		return
	}
	if hello.Version != s.Version {
		_ = pc.Refuse(fmt.Sprintf("the hub is version %s and the front %s", s.Version, hello.Version))
		return
	}
	switch hello.Control {
	case "":
	case ControlStatus, ControlStop:
		_ = pc.SendStatus(s.report())
		if hello.Control == ControlStop {
			s.Log.Info("asked to stop; the hub stops", "sessions", s.active.Load()-1)
			s.stop()
		}
		return
	default:
		_ = pc.Refuse(fmt.Sprintf("unknown control %q", hello.Control))
		return
	}
	in := pc.Reader()
	var out, logs io.Writer = c, nil
	var files []*os.File
	if !hello.Relay {
		if files, err = hubsock.ReceiveFiles(c, 3); err != nil {
			_ = pc.Refuse("taking the session's stdin, stdout and stderr: " + err.Error())
			return
		}
		in, out, logs = files[0], files[1], files[2]
	}
	id := "s" + strconv.FormatInt(s.next.Add(1), 10)
	hello.Session = id
	s.sessions.Store(id, SessionInfo{ID: id, Cwd: hello.Cwd, Started: time.Now(), Relay: hello.Relay})
	defer s.sessions.Delete(id)
	if err := pc.Welcome(Welcome{Session: id, PID: os.Getpid()}); err != nil {
		closeAll(files)
		return
	}
	if !hello.Relay {
		// The front keeps the client's initialize, to resume the session
		// with a new hub should this one die.
		if hello.Resume != nil {
			replayed, err := replay(hello.Resume)
			if err != nil {
				s.Log.Warn("a resumed session's initialize does not read", "session", id, "error", err)
			} else {
				_ = pc.SendState(SessionState{Initialize: hello.Resume})
				in, out = io.MultiReader(replayed, in), &answerDropper{w: out}
			}
		} else {
			in = &initWatcher{r: in, found: func(init json.RawMessage) { _ = pc.SendState(SessionState{Initialize: init}) }}
		}
	}
	// The front's going away ends the session too: for a relayed one
	// its input ends; a passed one reads the runtime's own pipes, which
	// end when the runtime closes them.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !hello.Relay {
		go func() {
			_, _ = io.Copy(io.Discard, pc.Reader())
			cancel()
		}()
	}
	s.Log.Debug("session", "id", id, "cwd", hello.Cwd, "relay", hello.Relay)
	err = s.Session(sctx, hello, in, out, logs)
	closeAll(files)
	if hello.Relay {
		return // the socket's close is the end: a line would be read as the session's
	}
	e := Ended{}
	if err != nil && !errors.Is(err, context.Canceled) {
		e.Error = err.Error()
	}
	_ = pc.End(e)
}

func closeAll(files []*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}
