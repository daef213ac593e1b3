package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/gjson"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/jsonrpc"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// Reply is an upstream's answer to a request: exactly one of Result and
// Error is set, each the raw JSON the upstream sent.
type Reply struct {
	Result json.RawMessage
	Error  json.RawMessage
	// Stateless says the upstream speaks 2026-07-28 or later: its result
	// may ask for input (resultType "input_required").
	Stateless bool
}

// handlers are how a Conn hands on what the upstream sends of its own
// accord, and what it declares at initialize.
type handlers struct {
	// notify receives every notification: its method, the raw params and
	// the whole raw message.
	notify func(method string, params, msg json.RawMessage)
	// request receives the upstream's requests other than ping; nil
	// refuses them.
	request func(method string, id, params json.RawMessage, reply func(result, rpcErr json.RawMessage))
	// capabilities are declared at initialize.
	capabilities mcp.ClientCapabilities
	// clientInfo is the proxy's identity, told at initialize and in a
	// stateless request's _meta.
	clientInfo mcp.Implementation
	// speaks is what the server was found to speak before; learned is
	// told what this handshake found, when that is more.
	speaks  speaks
	learned func(speaks)
	// prefer is the revision tried first (the client's): a server that
	// speaks both is spoken to in it.
	prefer string
	// logLevel is the level a stateless upstream is told with each
	// request; nil or "": none.
	logLevel func() string
}

// speaks is what a server was found to speak, each Yes, No or "".
type speaks struct{ stateless, initialize string }

// The two ways a server can speak, as remembered between runs.
const (
	// RevisionStateless: 2026-07-28 or later, found with server/discover.
	RevisionStateless = "stateless"
	// RevisionInitialize: a revision with the initialize handshake.
	RevisionInitialize = "initialize"
)

// DefaultClientInfo is what the proxy tells upstreams about itself when
// the Spec does not say (Spec.ClientInfo).
var DefaultClientInfo = mcp.Implementation{Name: "ica-mcp-proxy", Version: "dev"}

// Conn is one live MCP session with an upstream.
type Conn struct {
	server    string
	transport string
	plugin    string
	cs        sdk.ClientSession
	logger    hclog.Logger
	h         handlers

	nextID atomic.Int64

	mu       sync.Mutex
	pending  map[int64]*pendingCall
	drained  chan struct{} // when set, closed once pending is empty (Retire)
	err      error         // why the session ended; set once
	done     chan struct{}
	readDone chan struct{} // closed when the read loop returns

	init *mcp.InitializeResult
	// outputEnded is closed when, on the direct data path, the upstream's
	// output ended (see draining); nil elsewhere.
	outputEnded <-chan struct{}
	// meta is set when the upstream speaks the stateless 2026-07-28
	// revision: the _meta members every request must carry, and the same
	// as raw object members (metaRaw).
	meta    []metaMember
	metaRaw []byte
	// stateless is meta != nil for the read loop, which runs while Dial
	// learns the revision.
	stateless atomic.Bool
}

// Dial opens a session on the transport plugin and performs the MCP
// initialize handshake.
func Dial(ctx context.Context, tc sdk.TransportClient, pluginName string, spec sdk.SessionSpec, logger hclog.Logger, h handlers) (*Conn, error) {
	cs, err := tc.Open(ctx, spec)
	if err != nil {
		var ex *sdk.ExitedError
		if errors.As(err, &ex) {
			return nil, &ExitedError{Server: spec.Server, Exited: ex.Exited}
		}
		var ee *sdk.EventError
		if errors.As(err, &ee) {
			if err := eventError(spec.Server, spec.Transport, ee.Event); err != nil {
				return nil, err
			}
		}
		return nil, &PluginError{Server: spec.Server, Plugin: pluginName, Err: err, Broke: status.Code(err) == codes.Unavailable}
	}
	c := &Conn{
		server:    spec.Server,
		transport: spec.Transport,
		plugin:    pluginName,
		cs:        cs,
		logger:    logger,
		h:         h,
		pending:   make(map[int64]*pendingCall),
		done:      make(chan struct{}),
		readDone:  make(chan struct{}),
	}
	if ow, ok := cs.(sdk.OutputWatcher); ok {
		c.outputEnded = ow.OutputEnded()
	}
	if mh, ok := cs.(sdk.MessageHandler); ok {
		// The direct data path: messages are routed on the goroutine that
		// reads them; the read loop gets the events.
		mh.SetMessageHandler(func(msgs [][]byte) {
			for _, m := range msgs {
				c.dispatch(m)
			}
		})
	}
	go c.readLoop()
	if err := c.handshake(ctx, spec); err != nil {
		return nil, err
	}
	return c, nil
}

// Initialize returns the upstream's answer to initialize.
func (c *Conn) Initialize() *mcp.InitializeResult { return c.init }

// Detail is the transport's description of the session (a process id).
func (c *Conn) Detail() string { return c.cs.Ready().Detail }

// Done is closed when the session has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err says why the session ended, or nil while it is live.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// pendingCall is a request waiting for its answer. Whoever removes it from
// the pending map calls done: the answer, the session's end, a timeout or a
// cancellation, whichever comes first.
type pendingCall struct {
	done  func(Reply, error)
	timer *time.Timer
	held  bool // a subscriptions/listen request (see busy)
}

// Call is one request to send upstream.
type Call struct {
	Method string
	Params json.RawMessage // raw JSON, or nil
	// Timeout (if > 0) ends the request with TimeoutErr, and the
	// upstream is sent notifications/cancelled.
	Timeout    time.Duration
	TimeoutErr error
	// Batch, when set, holds the request until the batch is flushed.
	Batch *Batch
	// Done is called exactly once, with the answer or the reason there
	// is none, from the session's read loop (or from the caller's
	// goroutine when the request cannot be sent).
	Done func(Reply, error)
	// asIs sends Params without the session's revision _meta: the
	// handshake's own requests carry that of the revision they probe.
	asIs bool
}

// Start sends call and returns at once. cancel ends the request as its
// timeout would, with err; it is a no-op once Done was called.
//
// This is the per-call path: no goroutine waits for the answer.
func (c *Conn) Start(call Call) (cancel func(error)) {
	id := c.start(call)
	return func(err error) { c.abandon(id, err) }
}

// start is Start returning the request's id.
func (c *Conn) start(call Call) int64 {
	method, params, batch, done := call.Method, call.Params, call.Batch, call.Done
	id := c.nextID.Add(1)
	pc := &pendingCall{done: done, held: method == string(mcp.MethodSubscriptionsListen)}
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		done(Reply{}, err)
		return id
	}
	c.pending[id] = pc
	if call.Timeout > 0 {
		pc.timer = time.AfterFunc(call.Timeout, func() { c.abandon(id, call.TimeoutErr) })
	}
	c.mu.Unlock()

	switch {
	case call.asIs:
	case c.meta != nil:
		level := ""
		if c.h.logLevel != nil {
			level = c.h.logLevel()
		}
		if !bytes.Contains(params, []byte("io.modelcontextprotocol/")) {
			// The per-call path: nothing of the client's to keep.
			var extra []byte
			if level != "" {
				extra = append(jsonrpc.AppendString(nil, mcp.MetaKeyLogLevel), ':')
				extra = jsonrpc.AppendString(extra, level)
			}
			params = spliceMeta(params, c.metaRaw, extra)
			break
		}
		params = withMeta(params, c.meta)
		if level != "" {
			params = withMeta(params, []metaMember{logLevelMember(level)})
		}
	default:
		params = withoutMeta(params)
	}
	msg := encodeRequest(id, method, params)
	held, err := false, error(nil)
	if batch != nil {
		held, err = batch.hold(c, msg)
	}
	if !held {
		err = c.cs.Send(msg)
	}
	if err != nil {
		// A send fails (io.EOF) once the session has ended; why it ended
		// (the upstream's exit code, a plugin crash) is what the read loop
		// sees, so wait for it.
		select {
		case <-c.readDone:
		case <-time.After(time.Second):
		}
		cerr := c.Err()
		if cerr == nil {
			cerr = &PluginError{Server: c.server, Plugin: c.plugin, Err: err, Broke: true}
		}
		c.finish(id, Reply{}, cerr)
	}
	return id
}

// Request sends one request and waits for the answer. If ctx ends first,
// the upstream is sent notifications/cancelled and ctx's error is returned.
func (c *Conn) Request(ctx context.Context, method string, params json.RawMessage) (Reply, error) {
	return c.request(ctx, Call{Method: method, Params: params})
}

// request is Request for a Call (whose Done it sets).
func (c *Conn) request(ctx context.Context, call Call) (Reply, error) {
	type result struct {
		r   Reply
		err error
	}
	ch := make(chan result, 1)
	call.Done = func(r Reply, err error) { ch <- result{r, err} }
	id := c.start(call)
	select {
	case res := <-ch:
		return res.r, res.err
	case <-ctx.Done():
		c.abandon(id, ctx.Err())
		res := <-ch // the answer, if it won the race, or ctx's error
		return res.r, res.err
	}
}

// finish hands the outcome of request id to its caller, if it is still
// waiting; it reports whether it was.
func (c *Conn) finish(id int64, r Reply, err error) bool {
	c.mu.Lock()
	pc, ok := c.pending[id]
	delete(c.pending, id)
	c.signalDrained()
	c.mu.Unlock()
	if !ok {
		return false
	}
	if pc.timer != nil {
		pc.timer.Stop()
	}
	pc.done(r, err)
	return true
}

// abandon ends request id with err and tells the upstream to stop.
func (c *Conn) abandon(id int64, err error) {
	if c.finish(id, Reply{}, err) {
		c.cancelUpstream(id, err)
	}
}

// Notify sends a notification to the upstream.
func (c *Conn) Notify(method string, params json.RawMessage) error {
	return c.cs.Send(jsonrpc.AppendNotification(nil, method, params))
}

func (c *Conn) cancelUpstream(id int64, why error) {
	if why == nil {
		why = context.Canceled
	}
	params, _ := json.Marshal(struct {
		RequestID int64  `json:"requestId"`
		Reason    string `json:"reason"`
	}{id, why.Error()})
	if err := c.Notify(string(mcp.MethodNotificationCancelled), params); err != nil {
		c.logger.Debug("could not send notifications/cancelled", "error", err)
	}
}

// Close asks the plugin to shut the upstream down and waits, bounded by
// grace plus a margin, for it to be gone. Pending requests fail with
// ErrClosed.
func (c *Conn) Close(grace time.Duration) {
	c.fail(ErrClosed)
	if err := c.cs.Close(grace); err != nil {
		c.cs.Abort()
		return
	}
	if grace <= 0 {
		grace = 5 * time.Second
	}
	select {
	case <-c.ended():
	case <-time.After(grace + 2*time.Second):
		c.logger.Warn("upstream did not report its exit; abandoning the session", "server", c.server)
	}
	c.cs.Abort()
}

// Retire closes the session once the requests in flight on it have
// ended, or after wait, whichever comes first; then as Close. The caller
// has stopped giving it new requests: a session retired for new
// credentials lets the calls it carries end as they would have.
func (c *Conn) Retire(wait, grace time.Duration) {
	c.mu.Lock()
	if c.busy() && c.drained == nil {
		c.drained = make(chan struct{})
	}
	drained := c.drained
	c.mu.Unlock()
	if drained != nil {
		timer := time.NewTimer(wait)
		select {
		case <-drained:
		case <-timer.C:
		}
		timer.Stop()
	}
	c.Close(grace)
}

// signalDrained tells Retire the last request ended; c.mu is held.
func (c *Conn) signalDrained() {
	if c.drained != nil && !c.busy() {
		close(c.drained)
		c.drained = nil
	}
}

// busy says a request other than a held listen is in flight: a
// subscriptions/listen request lasts as long as the session, and is not
// waited for (its owner listens again on the next session); c.mu is held.
func (c *Conn) busy() bool {
	for _, pc := range c.pending {
		if !pc.held {
			return true
		}
	}
	return false
}

// fail ends the session with err, failing every pending request at once.
// The first error wins.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	pending := c.pending
	c.pending = map[int64]*pendingCall{}
	c.signalDrained()
	c.mu.Unlock()
	close(c.done)
	for _, pc := range pending {
		if pc.timer != nil {
			pc.timer.Stop()
		}
		pc.done(Reply{}, err)
	}
}

// ended is closed when the read loop has returned.
func (c *Conn) ended() <-chan struct{} { return c.readDone }

// draining reports whether the session can answer nothing more though it
// has not ended yet: on the direct data path, the upstream's output ended
// and its exit (or its plugin's failure) is still on the way. A new
// request waits for the end and goes to a fresh session.
func (c *Conn) draining() bool {
	select {
	case <-c.outputEnded: // nil (never ready) off the direct path
		return c.Err() == nil
	default:
		return false
	}
}

func (c *Conn) readLoop() {
	defer close(c.readDone)
	for {
		f, err := c.cs.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				c.fail(ErrClosed)
			} else {
				c.fail(&PluginError{Server: c.server, Plugin: c.plugin, Err: err, Broke: true})
			}
			return
		}
		if f.Event == nil {
			for _, m := range f.Messages {
				c.dispatch(m)
			}
			continue
		}
		// The first event that ends the session says why; the plugin
		// follows AuthRequired, SessionExpired and Unsupported with
		// Exited.
		if err := eventError(c.server, c.transport, f.Event); err != nil {
			c.fail(err)
		}
	}
}

func (c *Conn) dispatch(msg []byte) {
	// The upstream is not trusted to write valid JSON, and what it sends
	// may be copied verbatim to the client. The message is validated once,
	// whole; a batch's members are JSON-RPC objects, never batches again,
	// so a message of nested brackets costs one pass, not one per level.
	msg = bytes.TrimSpace(msg)
	if err := jsonrpc.Validate(msg); err != nil {
		c.refuse(msg, err)
		return
	}
	switch msg[0] {
	case '{':
		c.route(msg)
	case '[':
		gjson.ParseBytes(msg).ForEach(func(_, m gjson.Result) bool {
			if m.IsObject() {
				c.route([]byte(m.Raw))
			} else {
				c.logger.Warn("upstream sent a batch member that is not a JSON-RPC message; dropped", "server", c.server)
			}
			return true
		})
	default:
		c.logger.Warn("upstream sent JSON that is not a JSON-RPC message; dropped", "server", c.server)
	}
}

// refuse drops a message that failed validation. One that nests too deep
// is still readable at its top level (jsonrpc.Parse recurses on nothing),
// so the call it answers fails at once with the reason instead of waiting
// for its timeout, and a request in it is answered with an error.
func (c *Conn) refuse(msg []byte, err error) {
	if !errors.Is(err, jsonrpc.ErrTooDeep) {
		c.logger.Warn("upstream sent invalid JSON; dropped", "server", c.server, "bytes", len(msg))
		return
	}
	c.logger.Warn("upstream sent a message that nests too deep; dropped", "server", c.server, "bytes", len(msg), "error", err)
	env := jsonrpc.Parse(msg)
	if len(env.ID) == 0 || string(env.ID) == "null" {
		return
	}
	detail := jsonrpc.ErrorObject(mcp.INTERNAL_ERROR, fmt.Sprintf("server %q sent a message whose %v; ica-mcp-proxy dropped it", c.server, err))
	if env.Method != "" {
		c.reply(env.ID, nil, detail)
		return
	}
	env.Result, env.Error = nil, detail
	c.deliver(env)
}

// route hands on one message, known to be a valid JSON object.
func (c *Conn) route(msg []byte) {
	env := jsonrpc.Parse(msg)
	hasID := len(env.ID) > 0 && string(env.ID) != "null"
	switch {
	case env.Method != "" && hasID && env.Method != string(mcp.MethodPing) && c.h.request != nil:
		c.h.request(env.Method, env.ID, env.Params, func(result, rpcErr json.RawMessage) {
			c.reply(env.ID, result, rpcErr)
		})
	case env.Method != "" && hasID:
		go c.answer(env)
	case env.Method != "":
		if c.h.notify != nil {
			c.h.notify(env.Method, env.Params, msg)
		}
	case hasID:
		c.deliver(env)
	default:
		c.logger.Warn("upstream sent a message that is neither request, response nor notification", "server", c.server, "message", truncate(msg, 200))
	}
}

func (c *Conn) deliver(env jsonrpc.Envelope) {
	id, err := strconv.ParseInt(string(env.ID), 10, 64)
	if err != nil {
		c.logger.Warn("upstream answered an id the proxy never sent", "server", c.server, "id", string(env.ID))
		return
	}
	r := Reply{Result: env.Result, Error: env.Error, Stateless: c.stateless.Load()}
	if r.Result == nil && r.Error == nil {
		r.Result = json.RawMessage("null")
	}
	if !c.finish(id, r, nil) {
		// Cancelled or timed out already: the answer has no one to go to.
		c.logger.Debug("dropping answer to a request no longer waited for", "server", c.server, "id", id)
	}
}

// answer handles a request from the upstream that no one else takes: ping
// is answered; anything else, when the proxy relays no requests (the
// CLI's sessions), is refused.
func (c *Conn) answer(env jsonrpc.Envelope) {
	if env.Method == string(mcp.MethodPing) {
		c.reply(env.ID, json.RawMessage("{}"), nil)
		return
	}
	c.reply(env.ID, nil, jsonrpc.ErrorObject(mcp.METHOD_NOT_FOUND, "unsupported request method: "+env.Method))
}

// reply answers the upstream's request id with a raw result or error.
func (c *Conn) reply(id, result, rpcErr json.RawMessage) {
	var msg []byte
	if rpcErr != nil {
		msg = jsonrpc.AppendError(nil, id, rpcErr)
	} else {
		if result == nil {
			result = json.RawMessage("{}")
		}
		msg = jsonrpc.AppendResult(nil, id, result)
	}
	if err := c.cs.Send(msg); err != nil {
		c.logger.Debug("could not answer upstream request", "server", c.server, "error", err)
	}
}

func encodeRequest(id int64, method string, params json.RawMessage) []byte {
	var num [20]byte
	return jsonrpc.AppendRequest(make([]byte, 0, 64+len(method)+len(params)), strconv.AppendInt(num[:0], id, 10), method, params)
}

// truncate shortens a message for a log line.
func truncate(msg []byte, n int) string {
	if len(msg) <= n {
		return string(msg)
	}
	return string(msg[:n]) + "…"
}
