// Package hub is the per-user hub's protocol with its fronts: what a front
// (the command a runtime starts) tells the hub of its session, and what
// the hub answers.
//
// Over the hub's socket (core/hubsock), one JSON line each way, then the
// session:
//
//	front → hub: length, {"hello": {...}}      what the session is
//	           + its stdin and stdout (SCM_RIGHTS), or "relay": bytes follow
//	hub → front: {"welcome": {...}} or {"refused": "why"}
//	... the session runs ...
//	hub → front: {"ended": {"error": "..."}}   and the socket closes
//
// The hello alone is preceded by its length (4 bytes, big-endian): the
// hub reads exactly it, in two reads, and nothing of what follows (the
// files' control message, relayed bytes).
//
// A hello with "control" ("status", "stop") is no session: the hub
// answers {"status": {...}} and closes (and, for stop, stops).
//
// A front refused (another version, a hub that cannot serve its folder)
// says why on stderr and serves the session in-process.
package hub

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Hello is what a front tells the hub of its session.
type Hello struct {
	// Version is the front's build: a hub of another version refuses it
	// (the front starts a hub of its own version beside it).
	Version string `json:"version"`
	// Cwd is the folder the runtime started the front in: the project
	// whose .mcp.json the session sees.
	Cwd string `json:"cwd"`
	// Env is the front's environment: ${VAR} in the configuration, the
	// ICA_ settings and stdio servers' environment read it, as they would
	// in a proxy of the session's own.
	Env []string `json:"env"`
	// Relay says the session's bytes come over the socket itself (no
	// file passing here); otherwise the front's stdin and stdout follow.
	Relay bool `json:"relay,omitempty"`
	// Control, when set, asks the hub for its status ("status") or to
	// stop ("stop"), instead of a session.
	Control string `json:"control,omitempty"`
	// Resume is the client's initialize request when the session's hub
	// died: the new hub replays it (see resume.go).
	Resume json.RawMessage `json:"resume,omitempty"`
	// Session is the id the hub gave the session (set by the hub).
	Session string `json:"-"`
}

// SessionState is what the front keeps of its session, to resume it.
type SessionState struct {
	// Initialize is the client's initialize request.
	Initialize json.RawMessage `json:"initialize,omitempty"`
}

// Controls a hello may ask for.
const (
	ControlStatus = "status"
	ControlStop   = "stop"
)

// Welcome is the hub's acceptance.
type Welcome struct {
	// Session names the session in hub status.
	Session string `json:"session"`
	// PID is the hub's, for the front's log.
	PID int `json:"pid"`
}

// Ended is the hub's word that the session is over.
type Ended struct {
	Error string `json:"error,omitempty"`
}

// message is one line of the protocol; exactly one member is set.
type message struct {
	Hello   *Hello          `json:"hello,omitempty"`
	Welcome *Welcome        `json:"welcome,omitempty"`
	Refused string          `json:"refused,omitempty"`
	Ended   *Ended          `json:"ended,omitempty"`
	Status  json.RawMessage `json:"status,omitempty"`
	Session *SessionState   `json:"session,omitempty"`
}

// maxLine bounds a protocol line: a hello carries an environment.
const maxLine = 1 << 20

// Refusal is a hub's refusal of a front, with why.
type Refusal struct{ Why string }

func (r *Refusal) Error() string { return "the hub refused the session: " + r.Why }

// Conn reads and writes the protocol's lines on one connection.
type Conn struct {
	r *bufio.Reader
	w io.Writer
}

// NewConn wraps a connection. The reader is buffered: read the session's
// relayed bytes through Reader, not the connection, after the protocol's
// first lines.
func NewConn(rw io.ReadWriter) *Conn {
	return &Conn{r: bufio.NewReader(rw), w: rw}
}

// Reader is what follows the protocol lines read so far.
func (c *Conn) Reader() io.Reader { return c.r }

func (c *Conn) write(m message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = c.w.Write(append(data, '\n'))
	return err
}

func (c *Conn) read() (message, error) {
	var m message
	var line []byte
	for {
		part, err := c.r.ReadSlice('\n')
		if len(line)+len(part) > maxLine {
			return m, fmt.Errorf("a protocol line over %d bytes", maxLine)
		}
		line = append(line, part...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return m, err
		}
		break
	}
	if err := json.Unmarshal(line, &m); err != nil {
		return m, fmt.Errorf("a protocol line that does not read: %w", err)
	}
	return m, nil
}

// SendHello is the front's first line, after its length.
func (c *Conn) SendHello(h Hello) error {
	data, err := json.Marshal(message{Hello: &h})
	if err != nil {
		return err
	}
	framed := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(data)+1), uint32(len(data)+1))
	_, err = c.w.Write(append(append(framed, data...), '\n'))
	return err
}

// ReadHello is the hub's first read on a front's connection: the
// front's hello, or why it is not one. It reads the length, then
// exactly the line, never past it: the front's stdin and stdout may
// follow as a socket control message, which a buffered read would drop.
func ReadHello(r io.Reader) (Hello, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return Hello{}, fmt.Errorf("the hello's length: %w", err)
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > maxLine {
		return Hello{}, fmt.Errorf("a protocol line over %d bytes (%d; not a front of this hub?)", maxLine, n)
	}
	// Grown as the bytes come, not at the length's word.
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, r, int64(n)); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Hello{}, fmt.Errorf("the hello: %w", err)
	}
	line := buf.Bytes()
	if !bytes.HasSuffix(line, []byte("\n")) {
		return Hello{}, errors.New("a protocol line that does not end where its length says")
	}
	var m message
	if err := json.Unmarshal(line, &m); err != nil {
		return Hello{}, fmt.Errorf("a protocol line that does not read: %w", err)
	}
	if m.Hello == nil {
		return Hello{}, errors.New("the front's first line is not a hello")
	}
	if m.Hello.Version == "" {
		return Hello{}, errors.New("the front's hello names no version")
	}
	return *m.Hello, nil
}

// Welcome accepts the session.
func (c *Conn) Welcome(w Welcome) error { return c.write(message{Welcome: &w}) }

// Refuse refuses the session, saying why.
func (c *Conn) Refuse(why string) error {
	return c.write(message{Refused: strings.TrimSpace(why)})
}

// ReadWelcome is the front's read after its hello: the hub's welcome, or
// a *Refusal.
func (c *Conn) ReadWelcome() (Welcome, error) {
	m, err := c.read()
	switch {
	case err != nil:
		return Welcome{}, fmt.Errorf("the hub's answer: %w", err)
	case m.Refused != "":
		return Welcome{}, &Refusal{Why: m.Refused}
	case m.Welcome == nil:
		return Welcome{}, errors.New("the hub's answer is neither a welcome nor a refusal")
	}
	return *m.Welcome, nil
}

// SendStatus answers a control hello.
func (c *Conn) SendStatus(status any) error {
	data, err := json.Marshal(status)
	if err != nil {
		return err
	}
	return c.write(message{Status: data})
}

// ReadStatus is a control's answer: the hub's status, or a *Refusal.
func (c *Conn) ReadStatus() (json.RawMessage, error) {
	m, err := c.read()
	switch {
	case err != nil:
		return nil, fmt.Errorf("the hub's answer: %w", err)
	case m.Refused != "":
		return nil, &Refusal{Why: m.Refused}
	case m.Status == nil:
		return nil, errors.New("the hub's answer is no status")
	}
	return m.Status, nil
}

// End tells the front its session is over.
func (c *Conn) End(e Ended) error { return c.write(message{Ended: &e}) }

// SendState tells the front what to keep of its session.
func (c *Conn) SendState(st SessionState) error { return c.write(message{Session: &st}) }

// ErrHubGone is the hub's connection closing without the session's end:
// the hub died.
var ErrHubGone = errors.New("the hub closed the session without a word (it died?)")

// WaitEnd is the front's wait for the session's end: the hub's word, or
// ErrHubGone. What the hub says to keep of the session meanwhile goes to
// keep.
func (c *Conn) WaitEnd(keep func(SessionState)) (Ended, error) {
	for {
		m, err := c.read()
		switch {
		case errors.Is(err, io.EOF):
			return Ended{}, ErrHubGone
		case err != nil:
			return Ended{}, err
		case m.Session != nil:
			keep(*m.Session)
		case m.Ended != nil:
			return *m.Ended, nil
		default:
			return Ended{}, errors.New("the hub sent something other than the session's end")
		}
	}
}
