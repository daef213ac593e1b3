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

// PluginError says the transport plugin failed (crashed, or its connection
// broke) under a session.
type PluginError struct {
	Server string
	Plugin string
	Err    error
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
}

func (e *AuthRequiredError) Error() string {
	return fmt.Sprintf("server %q requires login (HTTP %d)", e.Server, e.Status)
}

// SessionExpiredError says the upstream forgot the session.
type SessionExpiredError struct {
	Server string
	Detail string
}

func (e *SessionExpiredError) Error() string {
	return fmt.Sprintf("server %q: session expired: %s", e.Server, e.Detail)
}
