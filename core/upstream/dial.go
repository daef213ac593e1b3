package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// Dialing: opening a session for an Upstream, one at a time however many
// callers wait, on the configured transport or its fallback, with the
// credentials a login gives, and not again too soon after failures
// (restarts.go).

type dialCall struct {
	done chan struct{}
	conn *Conn
	err  error
}

func (u *Upstream) dialShared(ctx context.Context, call *dialCall) {
	if u.spec.RequestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, u.spec.RequestTimeout)
		defer cancel()
	}
	conn, err := u.dial(ctx)
	u.mu.Lock()
	u.dialing = nil
	call.conn, call.err = conn, err
	switch {
	case err == nil && u.closed:
		go conn.Close(u.spec.CloseGrace)
		call.err = fmt.Errorf("server %q: %w", u.name, ErrClosed)
	case err == nil:
		u.conn = conn
		go u.watch(conn, time.Now())
		u.armIdle()
	}
	u.mu.Unlock()
	close(call.done)
}

// dial opens a new session and records the outcome in the state.
func (u *Upstream) dial(ctx context.Context) (*Conn, error) {
	conn, sent, err := u.dialTransports(ctx, nil)
	if u.refusedToken(err) {
		// A 401 with a token: renew it once and try again.
		ar, _ := errors.AsType[*AuthRequiredError](err)
		conn, sent, err = u.dialTransports(ctx, &Refusal{Challenge: ar.WWWAuthenticate, Sent: sent})
	}
	defer u.triedOnce.Do(func() { close(u.tried) })
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = &TimeoutError{Server: u.name, Method: "initialize", After: u.spec.RequestTimeout}
		}
		if ar, ok := errors.AsType[*AuthRequiredError](err); ok && ar.Detail == "" {
			ar.Detail = sent.Withheld
		}
		state := err
		// A login wanted, or a plugin that broke, is no failure of the
		// server's own: nothing to pause for.
		if ownFailure(err) {
			u.mu.Lock()
			u.restarts.failed(u.redact(err.Error()), time.Now())
			// While a pause follows, the state says so (and why).
			if paused := u.restarts.paused(u.name, time.Now()); paused != nil {
				state = paused
			}
			u.mu.Unlock()
		}
		u.setError(state)
		return nil, u.redacted(err)
	}
	u.mu.Lock()
	u.state.Status, u.state.Error, u.state.Since = StatusOK, "", time.Now()
	u.state.Detail = conn.Detail()
	u.state.Transport = conn.transport
	init := conn.Initialize()
	if init != nil {
		u.state.ServerName, u.state.ServerVersion = init.ServerInfo.Name, init.ServerInfo.Version
		u.caps = &init.Capabilities
	}
	u.mu.Unlock()
	if init != nil && u.hooks.Connected != nil {
		u.hooks.Connected(u.name, init)
	}
	if sent.Authorization != "" && u.hooks.Took != nil {
		u.hooks.Took(ctx, u.name, sent)
	}
	u.logger.Debug("upstream session ready", "server", u.name, "transport", conn.transport, "detail", conn.Detail())
	return conn, nil
}

// dialTransports tries the configured transport and, if the server says
// it does not speak it, the fallback; the remembered one goes first.
// sent is what the last session tried presented.
func (u *Upstream) dialTransports(ctx context.Context, refused *Refusal) (_ *Conn, sent Credentials, _ error) {
	order := []string{u.spec.Transport}
	if fb := u.spec.Fallback; fb != "" {
		order = append(order, fb)
		if u.spec.Memo != nil && u.spec.Memo.Get(u.spec.Session.URL) == fb {
			order = []string{fb, u.spec.Transport}
		}
	}
	var errs []error
	for _, t := range order {
		conn, cred, err := u.dialWith(ctx, t, refused)
		sent = cred
		if err == nil {
			if u.spec.Fallback != "" && u.spec.Memo != nil {
				if err := u.spec.Memo.Set(u.spec.Session.URL, t); err != nil {
					u.logger.Debug("could not remember the transport", "server", u.name, "error", err)
				}
			}
			return conn, sent, nil
		}
		var unsupported *UnsupportedError
		if !errors.As(err, &unsupported) {
			return nil, sent, err
		}
		errs = append(errs, err)
		u.logger.Debug("server refused a transport", "server", u.name, "transport", t, "error", err)
	}
	if len(errs) == 1 {
		return nil, sent, errs[0]
	}
	return nil, sent, fmt.Errorf("%w; and %w", errs[0], errs[1])
}

// authorized reports whether the last session was opened with a token.
func (u *Upstream) authorized() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.withToken
}

func (u *Upstream) dialWith(ctx context.Context, transport string, refused *Refusal) (*Conn, Credentials, error) {
	tc, pluginName, err := u.opener.Transport(ctx, transport)
	if err != nil {
		return nil, Credentials{}, &PluginError{Server: u.name, Plugin: transport, Err: err, Broke: true}
	}
	h := handlers{notify: u.onNotification, clientInfo: u.spec.ClientInfo}
	if h.clientInfo.Name == "" {
		h.clientInfo = DefaultClientInfo
	}
	if u.hooks.Request != nil {
		h.request = func(method string, id, params json.RawMessage, reply func(result, rpcErr json.RawMessage)) {
			u.hooks.Request(u.name, method, id, params, reply)
		}
	}
	if u.hooks.Capabilities != nil {
		h.capabilities = u.hooks.Capabilities()
	}
	h.logLevel = u.hooks.LogLevel
	if u.hooks.ClientRevision != nil {
		h.prefer = u.hooks.ClientRevision()
	}
	if m := u.spec.Revisions; m != nil {
		key := u.spec.RevisionKey
		h.speaks.stateless, h.speaks.initialize = m.Speaks(key)
		h.learned = func(found speaks) {
			if err := m.SetSpeaks(key, found.stateless, found.initialize); err != nil {
				u.logger.Debug("could not remember the server's revisions", "server", u.name, "error", err)
			}
		}
	}
	spec := u.spec.Session
	spec.Transport = transport
	sent, err := u.authorize(ctx, &spec, refused)
	if err != nil {
		return nil, sent, err
	}
	conn, err := Dial(ctx, tc, pluginName, spec, u.logger, h)
	u.mu.Lock()
	u.state.Starts++
	u.mu.Unlock()
	return conn, sent, err
}

// authorize adds the login's token to a remote session's headers, unless
// the configuration sets Authorization itself, and returns what it added.
func (u *Upstream) authorize(ctx context.Context, spec *sdk.SessionSpec, refused *Refusal) (Credentials, error) {
	if u.hooks.Credentials == nil || spec.URL == "" {
		return Credentials{}, nil
	}
	for k := range spec.Headers {
		if strings.EqualFold(k, "Authorization") {
			return Credentials{}, nil
		}
	}
	cred, err := u.hooks.Credentials(ctx, u.name, refused)
	if err != nil {
		ar := &AuthRequiredError{Server: u.name, Status: 401, Detail: err.Error()}
		if refused != nil {
			ar.WWWAuthenticate = refused.Challenge // for the login's discovery
		}
		return Credentials{}, ar
	}
	value := cred.Authorization
	u.mu.Lock()
	u.withToken = value != ""
	u.mu.Unlock()
	if value == "" {
		return cred, nil
	}
	spec.DPoPKey = cred.DPoPKey
	headers := make(map[string]string, len(spec.Headers)+1)
	for k, v := range spec.Headers {
		headers[k] = v
	}
	headers["Authorization"] = value
	spec.Headers = headers
	return cred, nil
}

// mayStart refuses a start while a failing server's pause lasts, after
// waiting for the pause when ctx leaves the time.
func (u *Upstream) mayStart(ctx context.Context) error {
	for {
		u.mu.Lock()
		err := u.allowStart()
		u.mu.Unlock()
		if err == nil {
			return nil
		}
		if err := waitOut(ctx, err); err != nil {
			return err
		}
	}
}

// ownFailure says whether err is the upstream's failure, which counts
// toward its pause, rather than its transport plugin's or a login's.
func ownFailure(err error) bool {
	if _, login := errors.AsType[*AuthRequiredError](err); login {
		// The server wants a login, or more scope for one request (a
		// 403 ends the session too): it did not fail.
		return false
	}
	pe, ok := errors.AsType[*PluginError](err)
	return !ok || !pe.Broke
}

// allowStart is mayStart with u.mu held; a refusal shows in the state.
func (u *Upstream) allowStart() error {
	err := u.restarts.allow(u.name, time.Now())
	if err != nil {
		u.state.Status, u.state.Error = StatusError, err.Error()
	}
	return err
}
