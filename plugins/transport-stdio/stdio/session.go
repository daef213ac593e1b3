package stdio

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/lines"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/proctree"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// Timings of the shutdown sequence when the caller gives no deadline, and
// of the cleanup of what is left of the process group once its leader has
// exited.
const (
	defaultGrace   = 4 * time.Second
	groupTermWait  = 500 * time.Millisecond
	readDrainLimit = time.Second
)

// session is one running child.
type session struct {
	cmd *exec.Cmd
	pid int
	// tree is the child's process tree (its group, or its job): ended
	// whole, so no grandchild outlives the session.
	tree   *proctree.Tree
	peer   sdk.Peer
	logger hclog.Logger

	writeMu sync.Mutex
	stdin   *os.File
	stdout  *os.File
	wbuf    []byte

	stderr *tail

	exited chan struct{} // closed when the leader has been waited for
	done   chan struct{} // closed after Exited was reported

	closeOnce sync.Once
	closing   chan struct{} // closed when the host asked for shutdown
}

// start runs cmd. When piped, its stdin and stdout are left to the
// caller (s.stdin, s.stdout), which hands them to the host: the session
// reads and writes no messages, only supervises.
func start(cmd *exec.Cmd, server string, peer sdk.Peer, piped bool) (*session, error) {
	// os.Pipe rather than cmd.StdoutPipe: Wait must not wait for, nor
	// close under, the readers, since a grandchild may hold the pipes open
	// after the leader is gone.
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		closeAll(inR, inW)
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(inR, inW, outR, outW)
		return nil, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	tree, err := proctree.StartWatched(cmd)
	if err != nil {
		closeAll(inR, inW, outR, outW, errR, errW)
		return nil, fmt.Errorf("start %s: %w", cmd.Args[0], err)
	}
	closeAll(inR, outW, errW)

	s := &session{
		cmd:     cmd,
		pid:     cmd.Process.Pid,
		tree:    tree,
		peer:    peer,
		logger:  peer.Logger(),
		stdin:   inW,
		stdout:  outR,
		stderr:  newTail(20, 1000),
		exited:  make(chan struct{}),
		done:    make(chan struct{}),
		closing: make(chan struct{}),
	}
	s.logger.Debug("started upstream", "server", server, "pid", s.pid, "command", cmd.Path)

	stdoutDone := make(chan struct{})
	stderrDone := make(chan struct{})
	if piped {
		close(stdoutDone) // the host reads it, and waits for its end
	} else {
		go func() {
			defer close(stdoutDone)
			lines.Messages(outR, sdk.MaxMessageBytes, s.onStdout, s.logger)
		}()
	}
	go func() {
		defer close(stderrDone)
		_ = lines.Read(errR, 64<<10, s.onStderr, nil, s.logger)
	}()
	go s.wait(outR, errR, stdoutDone, stderrDone)
	return s, nil
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// ReadyDetail implements sdk.ReadyDetailer.
func (s *session) ReadyDetail() string { return "pid " + strconv.Itoa(s.pid) }

// onStdout delivers, in one frame, the messages the reader had at hand.
func (s *session) onStdout(msgs [][]byte) {
	if err := s.peer.Deliver(msgs...); err != nil {
		s.logger.Debug("could not deliver messages", "error", err)
	}
}

func (s *session) onStderr(batch [][]byte) {
	for _, line := range batch {
		text := string(line)
		s.stderr.add(text)
		s.logger.Info(text, "stream", "stderr")
	}
}

// wait reaps the leader, clears what is left of its group, lets the readers
// finish, and reports Exited.
func (s *session) wait(outR, errR *os.File, stdoutDone, stderrDone chan struct{}) {
	err := s.cmd.Wait()
	close(s.exited)

	// Whatever the leader left running in its group goes too.
	s.tree.Stop(groupTermWait)
	s.tree.Release()

	// Every message written before the exit must be delivered before
	// Exited; but a descendant that escaped the group could hold the
	// pipes open for ever, so the wait is bounded.
	timer := time.NewTimer(readDrainLimit)
	defer timer.Stop()
	for _, ch := range []chan struct{}{stdoutDone, stderrDone} {
		select {
		case <-ch:
		case <-timer.C:
		}
	}
	closeAll(outR, errR)
	s.writeMu.Lock()
	_ = s.stdin.Close()
	s.writeMu.Unlock()

	ev := sdk.Exited{ExitCode: -1, StderrTail: s.stderr.lines()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		ev.ExitCode = 0
	case errors.As(err, &exitErr):
		ev.ExitCode = exitErr.ExitCode()
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			ev.Signal = ws.Signal().String()
		}
	default:
		ev.Reason = err.Error()
	}
	select {
	case <-s.closing:
		if ev.Reason == "" {
			ev.Reason = "closed by host"
		}
	default:
		if ev.Reason == "" {
			ev.Reason = "upstream process exited"
		}
	}
	s.logger.Debug("upstream exited", "pid", s.pid, "code", ev.ExitCode, "signal", ev.Signal)
	_ = s.peer.Event(ev)
	close(s.done)
}

// Send implements sdk.Session: one line per message, all in one write.
func (s *session) Send(_ context.Context, msgs ...[]byte) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	select {
	case <-s.exited:
		return errors.New("upstream process has exited")
	default:
	}
	// One write for all, so a message is never interleaved with another.
	s.wbuf = s.wbuf[:0]
	for _, msg := range msgs {
		s.wbuf = append(append(s.wbuf, msg...), '\n')
	}
	_, err := s.stdin.Write(s.wbuf)
	if cap(s.wbuf) > 1<<20 {
		s.wbuf = nil // do not pin a huge buffer
	}
	return err
}

// Close implements sdk.Session with the MCP shutdown sequence: close stdin,
// wait, SIGTERM to the group, wait, SIGKILL to the group.
func (s *session) Close(ctx context.Context) error {
	s.closeOnce.Do(func() { close(s.closing) })
	grace := defaultGrace
	if dl, ok := ctx.Deadline(); ok {
		grace = time.Until(dl)
	}
	s.tree.Closing() // a guard must not take this EOF for this process's death
	s.writeMu.Lock()
	_ = s.stdin.Close()
	s.writeMu.Unlock()

	if !s.waitExit(grace / 2) {
		s.logger.Debug("upstream still running after stdin closed; terminating its process tree", "pid", s.pid)
		_ = s.tree.Terminate()
		if !s.waitExit(grace / 2) {
			s.logger.Warn("upstream ignored the request to terminate; killing its process tree", "pid", s.pid)
			_ = s.tree.Kill()
		}
	}
	select {
	case <-s.done:
	case <-time.After(readDrainLimit + groupTermWait + time.Second):
	}
	return nil
}

func (s *session) waitExit(d time.Duration) bool {
	if d <= 0 {
		d = time.Millisecond
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.exited:
		return true
	case <-t.C:
		return false
	}
}
