package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// Opener gives a client for the transport plugin providing a name, and the
// plugin's file name for error messages. pluginhost.Host implements it.
type Opener interface {
	Transport(ctx context.Context, name string) (sdk.TransportClient, string, error)
}

// Spec is everything needed to run one upstream.
type Spec struct {
	// Transport is the transport name ("stdio", ...).
	Transport string
	// Session is passed to the plugin.
	Session sdk.SessionSpec
	// RequestTimeout bounds each request; 0 means none.
	RequestTimeout time.Duration
	// Pooled keeps the session between operations; otherwise each
	// operation opens and closes its own.
	Pooled bool
	// IdleTTL closes a pooled session unused for that long; 0: never.
	IdleTTL time.Duration
	// ToolCacheTTL is how long a tools/list answer is reused.
	ToolCacheTTL time.Duration
	// CloseGrace is how long the upstream may take to exit on close.
	CloseGrace time.Duration
	// Fallback is the transport to try when the server says it does not
	// speak Transport ("sse" after "http"); "" for none. Whichever works
	// is remembered in Memo, and tried first next time.
	Fallback string
	Memo     TransportMemo
	// Revisions remembers, under RevisionKey, which way the server speaks
	// (stateless or initialize), so the probe runs once; nil: every start
	// probes.
	Revisions   RevisionMemo
	RevisionKey string
	// Redact removes the entry's secrets from a failure's message before
	// it is kept (State.Error) or logged; nil keeps it as it is.
	Redact func(string) string
	// ClientInfo is what the proxy tells the server about itself;
	// DefaultClientInfo when its name is empty.
	ClientInfo mcp.Implementation
}

// RevisionMemo remembers whether a server speaks the stateless revision
// (RevisionStateless) or an initialize one (RevisionInitialize).
type RevisionMemo interface {
	Revision(key string) string
	SetRevision(key, revision string) error
}

// TransportMemo remembers which transport a server URL speaks.
type TransportMemo interface {
	Get(url string) string
	Set(url, transport string) error
}

// Hooks tell the proxy what happens upstream.
type Hooks struct {
	// Notification receives every notification the upstream sends.
	Notification func(server, method string, params, msg json.RawMessage)
	// ListChanged is called when the upstream says one of its lists
	// changed (its cached copy is dropped first). A resources change
	// names both KindResources and KindResourceTemplates.
	ListChanged func(server string, kind Kind)
	// Request receives the upstream's own requests (sampling, elicitation,
	// roots/list); see RequestFunc. Without it they are refused.
	Request RequestFunc
	// Capabilities is what the proxy declares to the upstream at
	// initialize: what its own client can do.
	Capabilities func() mcp.ClientCapabilities
	// LogLevel is the lowest level of log messages the proxy's client
	// wants ("" for none set): a stateless upstream is told it in each
	// request, which the client did not already say it in.
	LogLevel func() string
	// Connected is called each time a session opens, with what the
	// upstream said at initialize.
	Connected func(server string, init *mcp.InitializeResult)
	// Credentials gives what a new remote session presents: its
	// Authorization header value ("" for none) and, for a DPoP-bound
	// token, the key its proofs are signed with. refused, when set, is
	// the server refusing what was presented last: a new token is wanted.
	Credentials func(ctx context.Context, server string, refused *Refusal) (Credentials, error)
	// Took is called when a session opened with the credentials given
	// (an Authorization header): the server took them.
	Took func(ctx context.Context, server string, sent Credentials)
}

// Refusal is a server refusing the credentials a session presented.
type Refusal struct {
	// Challenge is the WWW-Authenticate value of its 401.
	Challenge string
	// Sent is what was presented.
	Sent Credentials
}

// Credentials are what a remote session presents to its server.
type Credentials struct {
	Authorization string
	// DPoPKey (PEM), when set, signs a proof for every HTTP request
	// (RFC 9449): the token is bound to it.
	DPoPKey string
	// Withheld, with no Authorization, says why the login's token is not
	// presented: the server's 401 then says so.
	Withheld string
}

// RequestFunc handles a request an upstream sent: id and params are raw
// JSON. reply must be called exactly once, with the raw result or the raw
// JSON-RPC error object.
type RequestFunc func(server, method string, id, params json.RawMessage, reply func(result, rpcErr json.RawMessage))

// Status values of an Upstream.
const (
	StatusNotStarted = "not_started"
	StatusStarting   = "starting"
	StatusOK         = "ok"
	StatusError      = "error"
	// StatusLoginRequired: the server answered 401; it needs a login.
	StatusLoginRequired = "login_required"
)

// State is an Upstream's condition, for mirror_status and list_servers.
type State struct {
	Status string `json:"state"`
	// Error is the last failure's message when Status is "error".
	Error string `json:"error,omitempty"`
	// Since is when Status last changed.
	Since time.Time `json:"since"`
	// Running says a pooled session is live now.
	Running bool `json:"running"`
	// Detail is the live session's transport detail (a process id).
	Detail string `json:"detail,omitempty"`
	// Starts counts sessions opened.
	Starts int `json:"starts"`
	// Transport is the transport of the last session that opened.
	Transport string `json:"transport,omitempty"`
	// ServerName and ServerVersion are what the upstream said at
	// initialize.
	ServerName    string `json:"server_name,omitempty"`
	ServerVersion string `json:"server_version,omitempty"`
}

// Upstream is one configured server. It is safe for concurrent use.
type Upstream struct {
	name   string
	spec   Spec
	opener Opener
	logger hclog.Logger
	hooks  Hooks

	mu       sync.Mutex
	conn     *Conn
	inflight int
	dialing  *dialCall
	idle     *time.Timer
	state    State
	closed   bool
	// withToken says the last session was opened with a login's token.
	withToken bool
	challenge string // the last 401's WWW-Authenticate

	lists [numKinds]listCache

	restarts restarts

	// tried is closed when the first dial has ended, well or not.
	tried     chan struct{}
	triedOnce sync.Once
	caps      *mcp.ServerCapabilities // from the last initialize
}

type dialCall struct {
	done chan struct{}
	conn *Conn
	err  error
}

// New returns an Upstream; nothing starts until it is used.
func New(name string, spec Spec, opener Opener, logger hclog.Logger, hooks Hooks) *Upstream {
	spec.Session.Server = name
	return &Upstream{
		name: name, spec: spec, opener: opener, logger: logger, hooks: hooks,
		state: State{Status: StatusNotStarted},
		tried: make(chan struct{}),
	}
}

// Tried is closed once the upstream's first session has opened or failed
// to.
func (u *Upstream) Tried() <-chan struct{} { return u.tried }

// ServerCapabilities returns what the upstream offered at its last
// initialize, or nil before any.
func (u *Upstream) ServerCapabilities() *mcp.ServerCapabilities {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.caps
}

// Live says whether a session is open now: a request is sent at once,
// without starting the server first.
func (u *Upstream) Live() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.conn != nil && u.conn.Err() == nil
}

// NotifyLive sends a notification to the live session, if there is one;
// it starts none.
func (u *Upstream) NotifyLive(method string, params json.RawMessage) {
	u.mu.Lock()
	conn := u.conn
	u.mu.Unlock()
	if conn != nil {
		if err := conn.Notify(method, params); err != nil {
			u.logger.Debug("could not notify upstream", "server", u.name, "method", method, "error", err)
		}
	}
}

// State returns the Upstream's condition now.
func (u *Upstream) State() State {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.state
	s.Running = u.conn != nil
	return s
}

// Request sends one request and waits for the answer, starting the
// upstream if needed. The configured request timeout applies; when it
// passes, the upstream is sent notifications/cancelled.
func (u *Upstream) Request(ctx context.Context, method string, params json.RawMessage) (Reply, error) {
	if u.spec.RequestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, u.spec.RequestTimeout)
		defer cancel()
	}
	for attempt := 0; ; attempt++ {
		conn, release, err := u.acquire(ctx)
		if err != nil {
			return Reply{}, u.explain(ctx, method, err)
		}
		r, err := conn.Request(ctx, method, params)
		release()
		if attempt == 0 && u.refusedToken(err) {
			continue // once, on a new session with a renewed token
		}
		if err != nil {
			return Reply{}, u.explain(ctx, method, err)
		}
		return r, nil
	}
}

// refusedToken reports whether err is the server refusing the token the
// session was opened with (it expired or was revoked early): the request
// was not carried out, and is worth one more try with a renewed token.
func (u *Upstream) refusedToken(err error) bool {
	// A 403 asks for more scope: a renewed token carries the same, so it
	// is not tried (the caller's step-up answers it).
	ar, refused := errors.AsType[*AuthRequiredError](err)
	return refused && ar.Status != http.StatusForbidden && u.authorized()
}

// Start is the asynchronous Request, for the per-call path: with a live
// pooled session it sends at once and done is called from the session's
// read loop; otherwise a goroutine opens the session first. done is called
// exactly once. cancel abandons the request (the upstream is told) with err.
func (u *Upstream) Start(method string, params json.RawMessage, done func(Reply, error)) (cancel func(error)) {
	return u.StartIn(nil, method, params, done)
}

// StartIn is Start with the request held in batch (if not nil) until the
// batch is flushed, when it goes to a live session.
func (u *Upstream) StartIn(batch *Batch, method string, params json.RawMessage, done func(Reply, error)) (cancel func(error)) {
	u.mu.Lock()
	u.forgetEnded()
	conn := u.conn
	if conn == nil || !u.spec.Pooled || u.closed || conn.draining() {
		u.mu.Unlock()
		ctx, stop := context.WithCancelCause(context.Background())
		go func() {
			r, err := u.Request(ctx, method, params)
			if cause := context.Cause(ctx); cause != nil && errors.Is(err, context.Canceled) {
				err = cause
			}
			done(r, err)
		}()
		return stop
	}
	u.inflight++
	if u.idle != nil {
		u.idle.Stop()
	}
	u.mu.Unlock()
	timeoutErr := &TimeoutError{Server: u.name, Method: method, After: u.spec.RequestTimeout}
	return conn.StartIn(batch, method, params, u.spec.RequestTimeout, timeoutErr, func(r Reply, err error) {
		u.release()
		if u.refusedToken(err) {
			// The token was refused mid-session: one more try, on a new
			// session whose dial renews the token.
			go func() {
				r, err := u.Request(context.Background(), method, params)
				done(r, err)
			}()
			return
		}
		done(r, err)
	})
}

// explain turns a context error into a TimeoutError when the request
// timeout, not the caller, ended it.
func (u *Upstream) explain(ctx context.Context, method string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &TimeoutError{Server: u.name, Method: method, After: u.spec.RequestTimeout}
	}
	return err
}

// drainWait bounds how long a request waits for a session whose upstream's
// output ended to end too (its exit is normally reported at once).
const drainWait = 2 * time.Second

// acquire returns a live session and a release func to call when done.
func (u *Upstream) acquire(ctx context.Context) (*Conn, func(), error) {
	if !u.spec.Pooled {
		if err := u.mayStart(ctx); err != nil {
			return nil, nil, err
		}
		conn, err := u.dial(ctx)
		if err != nil {
			return nil, nil, err
		}
		return conn, func() { go conn.Close(u.spec.CloseGrace) }, nil
	}
	for {
		u.mu.Lock()
		if u.closed {
			u.mu.Unlock()
			return nil, nil, fmt.Errorf("server %q: %w", u.name, ErrClosed)
		}
		u.forgetEnded()
		if conn := u.conn; conn != nil && conn.draining() {
			// Its upstream answers nothing more: wait for its end, then
			// start a fresh one.
			u.mu.Unlock()
			select {
			case <-conn.ended():
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			case <-time.After(drainWait):
				// An upstream that closed its output and lives on: it is
				// of no use, and goes.
				u.mu.Lock()
				if u.conn == conn {
					u.conn = nil
				}
				u.mu.Unlock()
				go conn.Close(u.spec.CloseGrace)
			}
			continue
		}
		if u.conn != nil {
			u.inflight++
			if u.idle != nil {
				u.idle.Stop()
			}
			conn := u.conn
			u.mu.Unlock()
			return conn, func() { u.release() }, nil
		}
		call := u.dialing
		if call == nil {
			if err := u.allowStart(); err != nil {
				u.mu.Unlock()
				if err := waitOut(ctx, err); err != nil {
					return nil, nil, err
				}
				continue
			}
			call = &dialCall{done: make(chan struct{})}
			u.dialing = call
			u.state.Status = StatusStarting
			// The dial serves every caller waiting on it, so one caller
			// giving up must not abort it; it is bounded on its own.
			go u.dialShared(context.WithoutCancel(ctx), call)
		}
		u.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-call.done:
			if call.err != nil {
				return nil, nil, call.err
			}
			// Loop: take the new conn under the lock.
		}
	}
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

// forgetEnded drops a pooled session that has ended but that watch has
// not cleared yet, so no request is sent on it; u.mu held.
func (u *Upstream) forgetEnded() {
	if u.conn != nil && u.conn.Err() != nil {
		u.conn = nil
	}
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
	if m := u.spec.Revisions; m != nil {
		key := u.spec.RevisionKey
		h.revision = m.Revision(key)
		h.learned = func(revision string) {
			if err := m.SetRevision(key, revision); err != nil {
				u.logger.Debug("could not remember the server's revision", "server", u.name, "error", err)
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

// Recycle closes the live session, so the next request opens one with the
// current credentials.
func (u *Upstream) Recycle() {
	u.mu.Lock()
	conn := u.conn
	u.conn = nil
	u.restarts.reset() // new credentials: try at once
	u.mu.Unlock()
	if conn != nil {
		go conn.Close(u.spec.CloseGrace)
	}
}

// Remote reports whether the server is reached by URL: only such a
// server can ask for a login.
func (u *Upstream) Remote() bool { return u.spec.Session.URL != "" }

// Challenge is the WWW-Authenticate value of the server's last 401, if
// any: it tells a login where to find the authorization server.
func (u *Upstream) Challenge() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.challenge
}

func (u *Upstream) setError(err error) {
	status := StatusError
	if ar, ok := errors.AsType[*AuthRequiredError](err); ok {
		status = StatusLoginRequired
		if ar.WWWAuthenticate != "" {
			u.mu.Lock()
			u.challenge = ar.WWWAuthenticate
			u.mu.Unlock()
		}
	}
	msg := u.redact(err.Error())
	u.mu.Lock()
	u.state.Status, u.state.Error, u.state.Since = status, msg, time.Now()
	u.mu.Unlock()
	u.logger.Warn("upstream failed", "server", u.name, "error", msg)
}

// redact takes the entry's secrets out of msg (Spec.Redact).
func (u *Upstream) redact(msg string) string {
	if u.spec.Redact == nil {
		return msg
	}
	return u.spec.Redact(msg)
}

// redacted is err with the entry's secrets taken out of its message; its
// chain stays for errors.Is and errors.As.
func (u *Upstream) redacted(err error) error {
	if msg := u.redact(err.Error()); msg != err.Error() {
		return &redactedError{msg: msg, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

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

// watch forgets a pooled session when it ends, so the next request starts
// a new one. A session that ends on its own soon after it started counts
// as a failed start.
func (u *Upstream) watch(conn *Conn, started time.Time) {
	<-conn.Done()
	err := conn.Err()
	u.mu.Lock()
	if u.conn == conn {
		u.conn = nil
	}
	state := err
	if err != nil && !errors.Is(err, ErrClosed) && ownFailure(err) {
		u.restarts.ended(started, u.redact(err.Error()), time.Now())
		if paused := u.restarts.paused(u.name, time.Now()); paused != nil {
			state = paused
		}
	}
	u.mu.Unlock()
	if err != nil && !errors.Is(err, ErrClosed) {
		u.setError(state)
	}
}

func (u *Upstream) release() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.inflight--
	u.armIdle()
}

// armIdle (re)starts the idle timer when nothing is in flight; u.mu held.
func (u *Upstream) armIdle() {
	if u.inflight > 0 || u.spec.IdleTTL <= 0 || u.conn == nil {
		return
	}
	if u.idle == nil {
		u.idle = time.AfterFunc(u.spec.IdleTTL, u.closeIdle)
	} else {
		u.idle.Reset(u.spec.IdleTTL)
	}
}

func (u *Upstream) closeIdle() {
	u.mu.Lock()
	conn := u.conn
	if conn == nil || u.inflight > 0 {
		u.mu.Unlock()
		return
	}
	u.conn = nil
	u.mu.Unlock()
	u.logger.Debug("closing idle upstream session", "server", u.name)
	conn.Close(u.spec.CloseGrace)
}

func (u *Upstream) onNotification(method string, params, msg json.RawMessage) {
	for _, k := range kindsChangedBy(method) {
		u.invalidate(k)
		if u.hooks.ListChanged != nil {
			u.hooks.ListChanged(u.name, k)
		}
	}
	if u.hooks.Notification != nil {
		u.hooks.Notification(u.name, method, params, msg)
	}
}

// Close shuts the live session down and refuses further requests.
func (u *Upstream) Close() {
	u.mu.Lock()
	u.closed = true
	conn := u.conn
	u.conn = nil
	if u.idle != nil {
		u.idle.Stop()
	}
	u.mu.Unlock()
	if conn != nil {
		conn.Close(u.spec.CloseGrace)
	}
}
