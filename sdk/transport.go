package sdk

import (
	"context"
	"fmt"
	"os"

	"github.com/hashicorp/go-hclog"

	transportv1 "github.com/ica-mcp-proxy/ica-mcp-proxy/proto/ica/transport/v1"
)

// Transport is implemented by a transport plugin: it opens sessions to
// upstream MCP servers. One plugin process serves many sessions at once.
type Transport interface {
	// Info describes the plugin: the transport names it provides (for
	// example "stdio"), its version and a one-line description.
	Info() Info

	// Open connects to the upstream described by spec and returns once the
	// upstream accepts messages. ctx bounds the opening only; the session
	// lives until Close is called or the upstream goes away.
	//
	// Messages from the upstream go to peer.Deliver, verbatim. When the
	// upstream is gone, for whatever reason, the session must report it
	// exactly once with peer.Event(Exited{...}); nothing may be delivered
	// after that. An error from Open means no session was started.
	Open(ctx context.Context, spec SessionSpec, peer Peer) (Session, error)
}

// PipeTransport is a Transport whose upstream speaks newline-delimited
// JSON-RPC over a pair of byte streams, as a child process does on its
// stdin and stdout. The sdk then hands the host the streams themselves
// (when the host can take them), and the messages travel between the host
// and the upstream without crossing the plugin.
type PipeTransport interface {
	Transport
	// OpenPipe is Open, except that the session neither writes the
	// upstream's input nor reads its output: it returns them, in
	// non-blocking mode (as os.Pipe makes them), and the sdk passes them
	// to the host. The sdk closes out here; in stays open until the
	// session's Close (or the upstream's exit) closes it, as a stdio
	// session does first in its shutdown. The session goes on supervising
	// the upstream: it reports Exited (with the stderr tail), and Close
	// shuts the upstream down. Send is not called.
	OpenPipe(ctx context.Context, spec SessionSpec, peer Peer) (sess Session, in, out *os.File, err error)
}

// Session is one open upstream session.
type Session interface {
	// Send writes JSON-RPC messages to the upstream, verbatim and in order
	// (a stdio session writes them with one system call). Calls may come
	// from several goroutines; the session serialises them. The messages
	// are not retained after Send returns.
	Send(ctx context.Context, msgs ...[]byte) error

	// Close shuts the upstream down gracefully and returns when it is gone.
	// A stdio session closes the child's stdin, waits, then signals it; an
	// HTTP session ends its streams. The session still reports Exited.
	// If ctx ends first, Close forces the shutdown. Close may be called
	// again, concurrently, with a shorter deadline; the session must honour
	// the shorter one.
	Close(ctx context.Context) error
}

// Peer is the session's way back to the host. It is safe for concurrent use.
type Peer interface {
	// Deliver passes JSON-RPC messages from the upstream to the host, in
	// order, in one frame: pass together the messages that are ready
	// together. They are not retained after Deliver returns.
	Deliver(msgs ...[]byte) error
	// Event reports a lifecycle event: Exited, AuthRequired, Unsupported
	// or SessionExpired. Ready is sent by the sdk when Open returns.
	Event(ev Event) error
	// Logger is a logger named after the upstream server; what it writes
	// reaches the host's log.
	Logger() hclog.Logger
}

// SessionSpec says which upstream to connect to. Only the fields of the
// transport in use are set.
type SessionSpec struct {
	// Server is the server's name in the user's configuration.
	Server string
	// Transport is the name the host chose among Info().Names.
	Transport string

	// Command, Args, Env and Cwd describe a process to start. Env is the
	// child's whole environment: the host has already chosen what it may
	// see, and the plugin adds nothing.
	Command string
	Args    []string
	Env     map[string]string
	Cwd     string

	// URL and Headers describe a remote server.
	URL     string
	Headers map[string]string

	// TimeoutMillis is the per-request timeout the user configured, 0 for
	// none.
	TimeoutMillis int64
	// Options holds transport settings the core does not interpret, as a
	// JSON object, or nil.
	Options []byte
	// DPoPKey, when set, is the key (PEM) the Authorization header's token
	// is bound to (DPoP, RFC 9449): each HTTP request carries a fresh
	// proof signed with it.
	DPoPKey string
}

// Event is a lifecycle event of a session: Ready, Exited, AuthRequired or
// SessionExpired.
type Event interface{ isEvent() }

// Ready says the upstream accepts messages.
type Ready struct {
	// Detail is shown in logs: a process id, an HTTP session id.
	Detail string

	// dataPath is where the session's messages travel; the sdk sets it.
	dataPath transportv1.DataPath
}

// Exited says the upstream is gone; it is the last frame of a session.
type Exited struct {
	// ExitCode is the process's exit code, -1 when it was killed by a
	// signal or is not a process.
	ExitCode int
	// Signal names the signal that ended the process, if any.
	Signal string
	// StderrTail holds the last lines the upstream wrote on stderr.
	StderrTail []string
	// Reason says in words why the session ended.
	Reason string
}

// AuthRequired says the upstream refused the request for lack of
// credentials (HTTP 401, or 403 with insufficient_scope).
type AuthRequired struct {
	// WWWAuthenticate is the header value, verbatim.
	WWWAuthenticate string
	// Status is the HTTP status.
	Status int
}

// SessionExpired says the upstream no longer knows the session; the host
// must initialise again.
type SessionExpired struct {
	Detail string
}

// Unsupported says the server does not speak this transport: a streamable
// HTTP initialize answered 405, or an SSE endpoint that is no event stream.
// The host may try another transport for the same URL.
type Unsupported struct {
	// Status is the HTTP status, when there was one.
	Status int
	// Detail says what the server answered.
	Detail string
}

func (Ready) isEvent()          {}
func (Exited) isEvent()         {}
func (AuthRequired) isEvent()   {}
func (SessionExpired) isEvent() {}
func (Unsupported) isEvent()    {}

// EventError carries a lifecycle event as an error. A Transport's Open
// returns one when it did not start a session for a reason the host can act
// on (AuthRequired, Unsupported); the sdk then reports the event before
// Exited. On the host's side, TransportClient.Open returns one when the
// plugin did so.
type EventError struct {
	Event Event
	// Err is the plugin's error; nil on the host's side.
	Err error
}

func (e *EventError) Error() string {
	var what string
	switch ev := e.Event.(type) {
	case AuthRequired:
		what = fmt.Sprintf("authorization required (HTTP %d)", ev.Status)
	case Unsupported:
		what = "transport not supported by the server"
		if ev.Detail != "" {
			what += ": " + ev.Detail
		}
	case SessionExpired:
		what = "session expired"
		if ev.Detail != "" {
			what += ": " + ev.Detail
		}
	default:
		what = fmt.Sprintf("%T", e.Event)
	}
	if e.Err != nil {
		return what + ": " + e.Err.Error()
	}
	return what
}

func (e *EventError) Unwrap() error { return e.Err }

// ReadyDetailer may be implemented by a Session to give the Ready event a
// detail, such as the child's process id.
type ReadyDetailer interface {
	ReadyDetail() string
}
