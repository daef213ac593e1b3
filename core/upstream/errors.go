package upstream

import (
	"errors"
	"fmt"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// ErrClosed is returned for requests on a session the proxy closed.
var ErrClosed = errors.New("session closed")

// ExitedError says the upstream went away; in-flight requests fail with it
// at once.
type ExitedError struct {
	Server string
	Exited sdk.Exited
}

func (e *ExitedError) Error() string {
	return fmt.Sprintf("server %q: %s", e.Server, e.Exited)
}

// PluginError says the transport plugin failed under a session, or could
// not open one.
type PluginError struct {
	Server string
	Plugin string
	Err    error
	// Broke says the plugin itself failed (its process crashed, its
	// connection broke, it could not be started) rather than answered
	// with an error about the upstream: the plugin host restarts it on
	// its own terms, and the upstream is not held to have failed.
	Broke bool
}

func (e *PluginError) Error() string {
	return fmt.Sprintf("server %q: transport plugin %s failed: %v", e.Server, e.Plugin, e.Err)
}

func (e *PluginError) Unwrap() error { return e.Err }

// TimeoutError says the upstream did not answer in time; it was sent
// notifications/cancelled.
type TimeoutError struct {
	Server string
	Method string
	After  time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("server %q did not answer %s within %s; the request was cancelled", e.Server, e.Method, e.After)
}

// AuthRequiredError says the upstream wants credentials.
type AuthRequiredError struct {
	Server          string
	WWWAuthenticate string
	Status          int
	// Detail says why the proxy's token did not do, when it had one.
	Detail string
}

func (e *AuthRequiredError) Error() string {
	msg := fmt.Sprintf("server %q requires login (HTTP %d)", e.Server, e.Status)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	msg += fmt.Sprintf("; run `ica-mcp-proxy auth login %s`, or call proxy.auth_start with {\"server\": %q}", e.Server, e.Server)
	if e.WWWAuthenticate != "" {
		msg += "; WWW-Authenticate: " + e.WWWAuthenticate
	}
	return msg
}

// UnsupportedError says the server does not speak the transport tried.
type UnsupportedError struct {
	Server    string
	Transport string
	Detail    string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("server %q does not speak the %s transport: %s", e.Server, e.Transport, e.Detail)
}

// eventError turns a lifecycle event that ended a session into the error
// its requests fail with; nil for events that do not end one.
func eventError(server, transport string, ev sdk.Event) error {
	switch ev := ev.(type) {
	case sdk.Exited:
		return &ExitedError{Server: server, Exited: ev}
	case sdk.AuthRequired:
		return &AuthRequiredError{Server: server, WWWAuthenticate: ev.WWWAuthenticate, Status: ev.Status}
	case sdk.SessionExpired:
		return &SessionExpiredError{Server: server, Detail: ev.Detail}
	case sdk.Unsupported:
		return &UnsupportedError{Server: server, Transport: transport, Detail: ev.Detail}
	}
	return nil
}

// SessionExpiredError says the upstream forgot the session.
type SessionExpiredError struct {
	Server string
	Detail string
}

func (e *SessionExpiredError) Error() string {
	return fmt.Sprintf("server %q: session expired: %s", e.Server, e.Detail)
}
