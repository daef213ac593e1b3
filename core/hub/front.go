package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/hubsock"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/filelock"
)

// Front is what a runtime starts: it hands its session to the user's
// hub, starting the hub when none runs.
type Front struct {
	Home    string
	Version string
	Hello   Hello // Cwd and Env; Version is set from Version
	// Stdin and Stdout are the session's: passed to the hub where files
	// can be, relayed otherwise. Stderr is passed with them, for the
	// session's logs (a relayed session's stay in the hub's log).
	Stdin, Stdout, Stderr *os.File
	// Relay relays the session's bytes instead of passing the files
	// (where files cannot be passed; set by tests of that path too).
	Relay bool
	// StartHub starts a hub for Home, detached from the front; it returns
	// once the hub process is started, not when it listens.
	StartHub func() error
	// Wait bounds how long a started hub may take to listen.
	Wait time.Duration
	// Resuming, when set, is told when the hub died and the session
	// passes to a new one.
	Resuming func()
}

// maxResumes bounds how often one session passes to a new hub.
const maxResumes = 3

// ErrNoHub is a front that could not reach a hub: the caller serves the
// session in-process, saying why.
var ErrNoHub = errors.New("no hub")

// Run hands the session to the hub and waits for its end. An error
// wrapping ErrNoHub (or a *Refusal) means the session was not taken:
// serve it in-process.
//
// When the hub dies (ErrHubGone), a session whose files were passed goes
// to a new hub, started as the first was, which replays its initialize
// (see resume.go): the client keeps its session. Calls it had in flight
// are not answered; nothing else of it is lost.
func (f *Front) Run(ctx context.Context) error {
	var kept SessionState
	var died time.Time
	for resumes := 0; ; {
		err := f.run(ctx, &kept, resumes > 0)
		switch {
		case ctx.Err() != nil || f.Relay:
			return err
		case errors.Is(err, ErrHubGone) && resumes < maxResumes:
			resumes++
			died = time.Now()
			if f.Resuming != nil {
				f.Resuming()
			}
		case errors.Is(err, errNotResumed) && time.Since(died) < f.wait():
			// The dead hub's socket may still take a connection as it
			// goes, and drop it: try again.
			time.Sleep(50 * time.Millisecond)
		default:
			return err
		}
	}
}

// errNotResumed is a session a new hub did not take after its hub died.
var errNotResumed = errors.New("the hub died, and a new one could not take the session")

// run hands the session to a hub once; resuming, to a new hub after the
// last one died, with what was kept of the session.
func (f *Front) run(ctx context.Context, kept *SessionState, resuming bool) error {
	noHub := ErrNoHub
	if resuming {
		noHub = errNotResumed
	}
	c, err := f.connect(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", noHub, err)
	}
	defer func() { _ = c.Close() }()
	// The front's end (ctx) closes the socket, which ends the session in
	// the hub.
	defer context.AfterFunc(ctx, func() { _ = c.Close() })()
	pc := NewConn(c)
	hello := f.Hello
	hello.Version, hello.Relay = f.Version, f.Relay
	if resuming {
		hello.Resume = kept.Initialize
	}
	if err := pc.SendHello(hello); err != nil {
		return fmt.Errorf("%w: %w", noHub, err)
	}
	if !f.Relay {
		stderr := f.Stderr
		if stderr == nil {
			stderr = os.Stderr
		}
		if err := hubsock.SendFiles(c, f.Stdin, f.Stdout, stderr); err != nil {
			// A hub that refused at the hello has closed already: its
			// refusal says more than the broken pipe.
			if _, rerr := pc.ReadWelcome(); rerr != nil {
				if r, ok := errors.AsType[*Refusal](rerr); ok {
					return fmt.Errorf("%w: %w", noHub, r)
				}
			}
			return fmt.Errorf("%w: passing the session: %w", noHub, err)
		}
	}
	if _, err := pc.ReadWelcome(); err != nil {
		return fmt.Errorf("%w: %w", noHub, err)
	}
	if f.Relay {
		return f.relay(c, pc)
	}
	e, err := pc.WaitEnd(func(st SessionState) {
		if st.Initialize != nil {
			kept.Initialize = st.Initialize
		}
	})
	if err != nil {
		return err
	}
	if e.Error != "" {
		return errors.New(e.Error)
	}
	return nil
}

// relay copies the session both ways until the hub ends it.
func (f *Front) relay(c net.Conn, pc *Conn) error {
	go func() {
		_, _ = io.Copy(c, f.Stdin)
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}()
	_, err := io.Copy(f.Stdout, pc.Reader())
	return err
}

// connect reaches the hub, starting one when none listens: under the
// hub's lock, so that fronts starting together make one hub.
func (f *Front) connect(ctx context.Context) (net.Conn, error) {
	if c, err := hubsock.Dial(f.Home, f.Version); err == nil {
		return c, nil
	}
	dir, err := hubsock.RunDir(f.Home)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, f.wait())
	defer cancel()
	release, err := filelock.Acquire(lctx, filepath.Join(dir, hubsock.Name(f.Version)+".lock"), 20*time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("the hub's lock: %w", err)
	}
	defer release()
	if c, err := hubsock.Dial(f.Home, f.Version); err == nil {
		return c, nil // another front started it while this one waited
	}
	if f.StartHub == nil {
		return nil, errors.New("no hub runs, and this front cannot start one")
	}
	if err := f.StartHub(); err != nil {
		return nil, fmt.Errorf("starting the hub: %w", err)
	}
	var last error
	for deadline := time.Now().Add(f.wait()); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c, err := hubsock.Dial(f.Home, f.Version)
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, fmt.Errorf("the hub started but does not listen after %v: %w", f.wait(), last)
}

func (f *Front) wait() time.Duration {
	if f.Wait > 0 {
		return f.Wait
	}
	return 5 * time.Second
}
