package frontend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/broker"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/mirror"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/proxy"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstreamfacts"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/jsonrpc"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/lines"
)

// maxLineBytes bounds one message from the client.
const maxLineBytes = 64 << 20

// drainTimeout bounds how long Serve waits for requests in flight when the
// client goes away.
const drainTimeout = 5 * time.Second

// Server is the frontend.
type Server struct {
	p       *proxy.Proxy
	broker  *broker.Broker
	log     hclog.Logger
	version string

	// OnStart runs on the client's first request (initialize, or any
	// request of a revision without one), before it is answered: the
	// proxy starts its upstreams then, knowing what the client can do.
	OnStart func()

	out *lineWriter
	// batch holds the calls routed from one read of the client's input
	// until all of its messages are routed, so each upstream gets them in
	// one write. Only the reader's goroutine touches it.
	batch upstream.Batch

	mu       sync.Mutex
	inflight map[string]*call // by the client's raw request id

	// handshaken is set once the client sent initialize: a client with a
	// session gets the notifications that are not opt-in (log messages,
	// resource and task changes), and requests of its upstreams.
	handshaken atomic.Bool
	// initialized is set once the session's client said it is ready
	// (notifications/initialized): only then is it told, unasked, that
	// the tool list changed. A client that skips initialize entirely
	// sets handshaken through that notification too.
	initialized atomic.Bool
	// started is set once the upstreams were started (startMu
	// serialises the first requests).
	started atomic.Bool
	startMu sync.Mutex
	// served is the table last sent in answer to tools/list: the client
	// is told of changes relative to what it has seen.
	served atomic.Pointer[mirror.Table]
	wg     sync.WaitGroup

	// offers is what the proxy declared beyond tools at initialize.
	offers atomic.Pointer[upstreamfacts.Offers]
	asks   askTable
	subs   subscriptions
	// watches are the resource subscriptions of a session's client.
	watches resourceWatches
	logs    logWants
	xs      exchanges
	tasks   taskOwners
	signer  stateSigner
	// clientCaps is what the client declared at initialize.
	clientCaps atomic.Pointer[mcp.ClientCapabilities]
	// modernSeen is set once the client sent a 2026-07-28 request.
	modernSeen atomic.Bool
}

// offersWait bounds how long the answer to initialize waits for servers
// never seen before to say whether they offer resources or prompts; the
// memo answers for the others at once.
const offersWait = time.Second

func (s *Server) offered() upstreamfacts.Offers {
	if o := s.offers.Load(); o != nil {
		return *o
	}
	return upstreamfacts.Offers{}
}

// call is one request in flight, cancellable by the client.
type call struct {
	key       string
	cancelled atomic.Bool // by the client: no answer is sent

	mu       sync.Mutex
	cancelFn func(error)
}

// setCancel gives the call its way to stop; a cancellation that came
// before takes effect at once.
func (c *call) setCancel(f func(error)) {
	c.mu.Lock()
	c.cancelFn = f
	c.mu.Unlock()
	if c.cancelled.Load() {
		f(context.Canceled)
	}
}

func (c *call) cancel() {
	c.mu.Lock()
	f := c.cancelFn
	c.mu.Unlock()
	if f != nil {
		f(context.Canceled)
	}
}

// begin records a request in flight; end forgets it. Serve waits for
// every begun request to end before it returns.
func (s *Server) begin(id json.RawMessage) *call {
	c := &call{key: string(id)}
	s.mu.Lock()
	s.inflight[c.key] = c
	s.mu.Unlock()
	s.wg.Add(1)
	return c
}

func (s *Server) end(c *call) {
	s.mu.Lock()
	if s.inflight[c.key] == c {
		delete(s.inflight, c.key)
	}
	s.mu.Unlock()
	s.wg.Done()
}

// cancelAll stops every request in flight.
func (s *Server) cancelAll() {
	s.mu.Lock()
	all := make([]*call, 0, len(s.inflight))
	for _, c := range s.inflight {
		all = append(all, c)
	}
	s.mu.Unlock()
	for _, c := range all {
		c.cancel()
	}
}

// New returns a frontend for p.
func New(p *proxy.Proxy, b *broker.Broker, version string, logger hclog.Logger) *Server {
	s := &Server{
		p:        p,
		broker:   b,
		log:      logger,
		version:  version,
		inflight: make(map[string]*call),
		signer:   newStateSigner(),
	}
	return s
}

// Serve reads requests from in and writes answers to out until in ends or
// ctx is cancelled; then it waits (bounded) for requests in flight.
func (s *Server) Serve(ctx context.Context, in io.Reader, out io.Writer) error {
	s.out = newLineWriter(out)
	s.p.SetHooks(proxy.Hooks{
		ToolsChanged: s.toolsChanged,
		ListChanged:  s.listChanged,
		Notification: s.upstreamNotification,
		Request:      s.relayRequest,
	})
	outer := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Messages read together are routed together, then flushed, so each
	// upstream gets them in one write. A message over the bound is
	// dropped whole (tooLong): no part of it is ever passed on. The reader
	// runs on its own goroutine so that Serve returns when ctx ends, with
	// in still open; routing holds off Serve's end while a batch is
	// routed, and nothing read after it is handled.
	var (
		routing sync.Mutex
		stopped bool
	)
	read := make(chan error, 1)
	go func() {
		read <- lines.Read(in, maxLineBytes, func(batch [][]byte) {
			routing.Lock()
			defer routing.Unlock()
			for _, msg := range batch {
				if stopped {
					break
				}
				s.handle(ctx, msg)
			}
			s.batch.Flush() // nothing routed stays held
		}, func(o lines.Overlong) {
			routing.Lock()
			defer routing.Unlock()
			if !stopped {
				s.tooLong(o)
			}
		}, s.log)
	}()
	var err error
	select {
	case err = <-read:
	case <-ctx.Done():
	}
	routing.Lock()
	stopped = true
	routing.Unlock()
	s.failAsks()
	s.subs.endAll()

	// The client is gone: let running requests finish briefly, then
	// cancel them.
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(drainTimeout):
		cancel()
		s.cancelAll()
		<-done
	}
	if err == nil {
		// The client's input ended, or the caller cancelled (not the
		// drain above, which ends only what was still running).
		err = outer.Err()
	}
	return err
}

// tooLong answers for a client message over the bound, which was
// dropped: a request is refused under its own id, and an answer to an
// upstream's request fails that request, so nobody waits for a message
// that will not come. A message with an id that answers nothing the proxy
// asked is refused as a request (its method may lie past the head that is
// kept). A notification (a method, no id) gets no answer, as JSON-RPC
// says; a message with neither is refused under a null id.
func (s *Server) tooLong(o lines.Overlong) {
	why := fmt.Sprintf("the message is %.1f MiB, over the %d MiB a message may be; ica-mcp-proxy dropped it", float64(o.Size)/(1<<20), maxLineBytes>>20)
	if id, ok := o.ID(); ok {
		if a := s.take(id); a != nil {
			a.reply(nil, rpcError(mcp.INTERNAL_ERROR, "the client's answer: "+why))
			return
		}
		s.writeError(json.RawMessage(id), mcp.INVALID_REQUEST, "invalid request: "+why)
		return
	}
	if id, ok := o.RequestID(); ok {
		s.writeError(json.RawMessage(id), mcp.INVALID_REQUEST, "invalid request: "+why)
		return
	}
	if o.Notification() {
		s.log.Warn("dropped a notification from the client over the message bound", "bytes", o.Size)
		return
	}
	s.writeError(nil, mcp.INVALID_REQUEST, "invalid request: "+why)
}

// envelope is the part of a client message needed to route it (the raw
// fields point into the message), and what a request says of its
// protocol revision.
type envelope struct {
	jsonrpc.Envelope
	rev revision
}

func (e envelope) isRequest() bool { return e.HasID() }

// parseEnvelope validates msg and picks the members needed to route it,
// without decoding the rest: this is the per-call path. The raw members are
// slices of msg, which the reader hands over for good.
func parseEnvelope(msg []byte) (envelope, error) {
	if err := jsonrpc.Validate(msg); err != nil {
		return envelope{}, err
	}
	e := jsonrpc.Parse(msg)
	env := envelope{Envelope: e}
	if env.isRequest() {
		env.rev = readRevision(env.Params)
	}
	return env, nil
}

// refuse answers a message that failed validation. One that nests too
// deep is still an object whose envelope can be read (Parse recurses on
// nothing): a request among it gets its own error, and the client's
// other requests go on.
func (s *Server) refuse(msg []byte, err error) {
	if errors.Is(err, jsonrpc.ErrTooDeep) {
		var id json.RawMessage
		if e := jsonrpc.Parse(msg); e.HasID() {
			id = e.ID
		}
		s.writeError(id, mcp.INVALID_REQUEST, "invalid request: "+err.Error()+"; ica-mcp-proxy refused it")
		return
	}
	s.writeError(nil, mcp.PARSE_ERROR, "parse error: invalid JSON")
}

func (s *Server) handle(ctx context.Context, msg []byte) {
	if msg[0] == '[' {
		if err := jsonrpc.Validate(msg); err != nil {
			s.refuse(msg, err)
			return
		}
		gjson.ParseBytes(msg).ForEach(func(_, m gjson.Result) bool {
			if m.IsObject() {
				s.handle(ctx, []byte(m.Raw))
			}
			return true
		})
		return
	}
	env, err := parseEnvelope(msg)
	if err != nil {
		s.refuse(msg, err)
		return
	}
	if env.Method != string(mcp.MethodToolsCall) || !s.started.Load() {
		// Only a tools/call is held (Server.batch); anything else may
		// wait on the way (initialize starts the upstreams), and what is
		// held must not wait with it.
		s.batch.Flush()
	}
	switch {
	case env.Method == "" && env.isRequest():
		s.clientAnswered(msg) // an answer to a request relayed from an upstream
	case env.Method == string(mcp.MethodNotificationCancelled):
		s.cancelled(env.Params)
	case !env.isRequest():
		switch env.Method {
		case "":
			return // neither a request, a notification nor an answer
		case "notifications/initialized":
			s.initialized.Store(true)
			s.handshaken.Store(true)
		case "notifications/roots/list_changed":
			s.p.NotifyUpstreams(env.Method, env.Params)
		}
	case env.Method == string(mcp.MethodInitialize) && !env.rev.modern:
		// In order, before anything that depends on it.
		s.initialize(ctx, env, msg)
	default:
		if e := revisionError(env.rev); e != nil {
			s.writeRawError(env.ID, e)
			return
		}
		if env.rev.modern {
			s.modernSeen.Store(true)
		}
		if env.rev.modern && removedMethods[env.Method] {
			s.writeError(env.ID, mcp.METHOD_NOT_FOUND, fmt.Sprintf("%q was removed in protocol version 2026-07-28", env.Method))
			return
		}
		if !s.started.Load() {
			// In order too: a stateless client's first request starts the
			// upstreams as initialize does.
			s.startUpstreams(ctx, env.rev.capabilities(), upstream.RevisionStateless)
		}
		s.spawn(ctx, env, msg)
	}
}

// initialize records what the client can do, starts the upstreams, and
// answers with what the upstreams offer.
func (s *Server) initialize(ctx context.Context, env envelope, msg []byte) {
	if !jsonrpc2(msg) {
		s.writeError(env.ID, mcp.INVALID_REQUEST, "Invalid JSON-RPC version")
		return
	}
	var p struct {
		ProtocolVersion string                 `json:"protocolVersion"`
		Capabilities    mcp.ClientCapabilities `json:"capabilities"`
	}
	if !paramsObject(env.Params) {
		s.unparsable(env, "params is not an object")
		return
	}
	if len(env.Params) > 0 {
		if err := json.Unmarshal(env.Params, &p); err != nil {
			// Nothing starts for a handshake that cannot be read.
			s.unparsable(env, err.Error())
			return
		}
	}
	s.clientCaps.Store(&p.Capabilities)
	s.handshaken.Store(true)
	s.startUpstreams(ctx, &p.Capabilities, upstream.RevisionInitialize)
	s.answerInitialize(env, p.ProtocolVersion)
}

// startUpstreams starts the upstreams, telling them caps (what the
// client can do) and revision (how it speaks), and learns what they
// offer, which the proxy then declares. It runs on the client's first
// request, and again on every initialize, which re-reads what the
// upstreams offer.
func (s *Server) startUpstreams(ctx context.Context, caps *mcp.ClientCapabilities, revision string) {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	again := revision == upstream.RevisionInitialize
	if s.started.Load() && !again {
		return
	}
	if caps != nil {
		s.p.SetClientCapabilities(*caps)
	}
	if !s.started.Load() {
		s.p.SetClientRevision(revision)
	}
	if s.OnStart != nil {
		s.OnStart()
	}
	// A runtime that waits less for the proxy's tools has a shorter list
	// wait; the capabilities must not take longer.
	o := s.p.Offers(ctx, min(offersWait, s.p.ListWait()))
	s.offers.Store(&o)
	s.started.Store(true)
}

// spawn runs one request in its own goroutine, cancellable by the client.
func (s *Server) spawn(ctx context.Context, env envelope, msg []byte) {
	if env.rev.modern && multiRoundMethods[env.Method] {
		// A retry that continues a request the proxy holds.
		if st := gjson.GetBytes(env.Params, "requestState"); st.Type == gjson.String && strings.HasPrefix(st.Str, statePrefix) {
			s.batch.Flush()
			c := s.begin(env.ID)
			s.resume(env, c, func() { s.end(c) }, st.Str)
			return
		}
	}
	if env.Method == string(mcp.MethodToolsCall) && s.forwardNow(env) {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	c := s.begin(env.ID)
	c.setCancel(func(error) { cancel() })
	go func() {
		defer s.end(c)
		defer cancel()
		switch env.Method {
		case string(mcp.MethodToolsList):
			s.toolsList(ctx, env)
		case string(mcp.MethodToolsCall):
			s.toolsCall(ctx, env, c)
		case string(mcp.MethodSetLogLevel):
			s.p.SetLogLevel(env.Params)
			s.writeResult(env.ID, json.RawMessage("{}"))
		case string(mcp.MethodSubscriptionsListen):
			s.listen(ctx, env, c)
		case string(mcp.MethodTasksGet), string(mcp.MethodTasksResult), string(mcp.MethodTasksCancel), upstream.MethodTasksUpdate:
			s.taskRequest(ctx, env, c)
		case string(mcp.MethodTasksList):
			s.tasksList(ctx, env)
		case string(mcp.MethodResourcesList), string(mcp.MethodResourcesTemplatesList), string(mcp.MethodPromptsList):
			s.catalogList(ctx, env, catalogMethods[env.Method])
		case string(mcp.MethodResourcesSubscribe), string(mcp.MethodResourcesUnsubscribe):
			s.subscribeResource(ctx, env)
		case string(mcp.MethodResourcesRead), string(mcp.MethodPromptsGet), string(mcp.MethodCompletionComplete):
			s.routed(ctx, env, c)
		case string(mcp.MethodServerDiscover):
			// A stateless client asks again whenever it likes: it is told
			// what the upstreams offer now, not at its first request.
			if o := s.p.Offers(ctx, 0); o != s.offered() {
				s.offers.Store(&o)
			}
			s.answerOwn(env, msg)
		default:
			s.answerOwn(env, msg)
		}
	}()
}

// cancelled handles the client's notifications/cancelled.
func (s *Server) cancelled(params json.RawMessage) {
	id := gjson.GetBytes(params, "requestId")
	if !id.Exists() {
		return
	}
	s.mu.Lock()
	c := s.inflight[id.Raw]
	s.mu.Unlock()
	if c != nil {
		c.cancelled.Store(true)
		c.cancel()
	}
}

func (s *Server) write(parts ...[]byte) {
	if err := s.out.write(parts...); err != nil {
		s.log.Debug("could not write to the client", "error", err)
	}
}

var (
	resultHead = []byte(`{"jsonrpc":"2.0","id":`)
	resultMid  = []byte(`,"result":`)
	errorMid   = []byte(`,"error":`)
	tail       = []byte(`}`)
)

// writeResult answers id with a raw result, copied as it is.
func (s *Server) writeResult(id, result json.RawMessage) {
	s.write(resultHead, id, resultMid, result, tail)
}

// answer answers a request with a raw result, adding the members its
// revision requires and the result lacks (the result itself is not
// copied).
func (s *Server) answer(env envelope, result json.RawMessage) { s.answerWith(env, result, true) }

// answerBuilt is answer for a result the proxy built, which has none of
// the revision's members: the result is not searched for them.
func (s *Server) answerBuilt(env envelope, result json.RawMessage) { s.answerWith(env, result, false) }

func (s *Server) answerWith(env envelope, result json.RawMessage, search bool) {
	if !env.rev.modern || len(result) < 2 || result[0] != '{' {
		s.writeResult(env.ID, result)
		return
	}
	head := modernHead(env.Method, result, search, s.ttlMs())
	rest := result[1:]
	if len(head) > 1 {
		if r := bytes.TrimLeft(rest, " \t\r\n"); len(r) > 0 && r[0] != '}' {
			head = append(head, ',')
		}
	}
	s.write(resultHead, env.ID, resultMid, head, rest, tail)
}

// ttlMs is how long a modern client may keep a list: until the proxy
// re-lists its upstreams, once they have all answered; not at all while
// some are still starting (the list will change).
func (s *Server) ttlMs() int64 {
	if !s.p.Listed() {
		return 0
	}
	return s.p.ToolCacheTTL().Milliseconds()
}

// writeRawError answers id with a raw error object, copied as it is.
func (s *Server) writeRawError(id, rpcErr json.RawMessage) {
	s.write(resultHead, id, errorMid, rpcErr, tail)
}

func (s *Server) writeError(id json.RawMessage, code int, msg string) {
	s.write(jsonrpc.AppendError(nil, id, jsonrpc.ErrorObject(code, msg)))
}

// toolsChanged tells the client to list tools again, if what it was last
// given differs from what it would get now. A client that has not listed
// tools yet has nothing to refresh.
func (s *Server) toolsChanged() {
	served := s.served.Load()
	if served == nil || mirror.Same(served, s.p.Table()) {
		return
	}
	if s.initialized.Load() {
		s.write(jsonrpc.AppendNotification(nil, string(mcp.MethodNotificationToolsListChanged), nil))
	}
	s.subs.notify(s, string(mcp.MethodNotificationToolsListChanged), nil)
}
