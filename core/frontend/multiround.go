package frontend

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/jsonrpc"
)

// Two ways for a server to ask its client for something in the middle of
// a call (sampling, elicitation, roots) meet here, in both directions:
//
//   - A server of an initialize revision sends a request of its own. A
//     2026-07-28 client takes no requests: its call is answered with
//     input_required naming what the server asks, and a requestState, and
//     the server's call is held. The client's retry carries the answer to
//     the held request, and gets the call's result, or the next question.
//   - A 2026-07-28 server answers input_required. A client of an
//     initialize revision knows nothing of that: the proxy asks it each
//     input request as an ordinary request, and retries the server with
//     the answers and the requestState, byte for byte.
//
// Both are multi-round-trip requests (MRTR, the 2026-07-28 revision's
// name): one client request that takes several rounds with the server.
// An exchange is one client request to an upstream, across its rounds.

// multiRoundMethods are the requests that may need input on the way.
var multiRoundMethods = map[string]bool{
	string(mcp.MethodToolsCall):     true,
	string(mcp.MethodResourcesRead): true,
	string(mcp.MethodPromptsGet):    true,
}

// maxRounds bounds the rounds of one request with a 2026-07-28 server.
const maxRounds = 16

// target is a client request waiting for an exchange's answer.
type target struct {
	env    envelope
	c      *call
	server string
	ended  func() // runs after the answer is written
	// batch, on the reader's goroutine, holds the request until the
	// reader has routed everything one read brought (upstream.Batch).
	batch *upstream.Batch
}

// outcome is how the upstream answered.
type outcome struct {
	r   upstream.Reply
	err error
}

// pendingAsk is a request from an upstream of an initialize revision,
// waiting for a 2026-07-28 client's answer.
type pendingAsk struct {
	key    string
	method string
	params json.RawMessage
	reply  func(result, rpcErr json.RawMessage)
	sent   bool // named in an input_required already
}

type exchange struct {
	s      *Server
	id     uint64
	server string
	method string
	params json.RawMessage // as first sent upstream
	modern bool            // the client speaks 2026-07-28
	bind   string          // what a requestState must be bound to
	write  func(t target, r upstream.Reply, err error)

	mu    sync.Mutex
	t     *target // who gets the answer; nil while a retry is awaited
	first target  // the first request's (one allocation with the exchange); never written again
	caps  json.RawMessage
	asks  []*pendingAsk
	keys  int
	// clientRound counts the requestStates issued to a 2026-07-28
	// client (each input_required it was answered); a retry must carry
	// the latest.
	clientRound int
	final       *outcome    // came while a retry was awaited
	timer       *time.Timer // ends the exchange when no retry comes
	cancelUp    func(error)
	cancelErr   error
	ctx         context.Context // for the client requests of fulfil
	stop        context.CancelFunc
	// serverRounds counts the input_required answers of a 2026-07-28
	// server fulfilled for a client of an initialize revision.
	serverRounds int
	expired      bool
	done         bool
}

// exchanges are the 2026-07-28 clients' requests in flight that an
// upstream's request may belong to.
type exchanges struct {
	mu       sync.Mutex
	next     uint64
	byID     map[uint64]*exchange
	byServer map[string][]*exchange
}

func (l *exchanges) add(x *exchange) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byID == nil {
		l.byID, l.byServer = map[uint64]*exchange{}, map[string][]*exchange{}
	}
	l.next++
	x.id = l.next
	l.byID[x.id] = x
	l.byServer[x.server] = append(l.byServer[x.server], x)
}

func (l *exchanges) remove(x *exchange) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byID[x.id] != x {
		return
	}
	delete(l.byID, x.id)
	list := l.byServer[x.server]
	for i, y := range list {
		if y == x {
			l.byServer[x.server] = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(l.byServer[x.server]) == 0 {
		delete(l.byServer, x.server)
	}
}

func (l *exchanges) get(id uint64) *exchange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byID[id]
}

// oldest is the exchange with server that has waited longest: a server
// of an initialize revision does not say which call its request is for,
// and the oldest call is the likeliest to be the one waiting on it.
func (l *exchanges) oldest(server string) *exchange {
	l.mu.Lock()
	defer l.mu.Unlock()
	if list := l.byServer[server]; len(list) > 0 {
		return list[0]
	}
	return nil
}

// exchange sends a client's request upstream and answers it through
// write, bridging what the client's and the server's revisions cannot
// say to each other. It returns how to cancel the request.
func (s *Server) exchange(t target, server, method string, params json.RawMessage, write func(target, upstream.Reply, error)) func(error) {
	batch := t.batch
	t.batch = nil // for the first send only: the rest come from other goroutines
	x := &exchange{s: s, server: server, method: method, params: params, write: write, first: t, modern: t.env.rev.modern}
	x.t = &x.first
	if x.modern {
		x.bind, x.caps = binding(method, t.env.Params), t.env.rev.caps
		s.xs.add(x)
	}
	s.announceStart(server, t.env.Params)
	x.sendIn(batch, params)
	return x.cancel
}

func (x *exchange) send(params json.RawMessage) { x.sendIn(nil, params) }

func (x *exchange) sendIn(batch *upstream.Batch, params json.RawMessage) {
	x.mu.Lock()
	err := x.cancelErr
	x.mu.Unlock()
	if err != nil {
		x.complete(outcome{err: err})
		return
	}
	cancel := x.s.p.StartRequest(x.server, upstream.Call{Method: x.method, Params: params, Batch: batch, Done: x.answered})
	x.mu.Lock()
	x.cancelUp, err = cancel, x.cancelErr
	x.mu.Unlock()
	if err != nil {
		cancel(err)
	}
}

// cancel ends the exchange: the upstream's call is cancelled, and its
// outcome ends the client's request.
func (x *exchange) cancel(err error) {
	x.mu.Lock()
	if x.cancelErr == nil {
		x.cancelErr = err
	}
	up, stop := x.cancelUp, x.stop
	x.mu.Unlock()
	if stop != nil {
		stop()
	}
	if up != nil {
		up(err)
	}
}

func (x *exchange) answered(r upstream.Reply, err error) {
	// (The substring test first: this is the per-call path, and a search
	// for a byte string costs much less than walking the result.)
	if err == nil && r.Error == nil && r.Stateless && !x.modern && bytes.Contains(r.Result, []byte(`"input_required"`)) &&
		gjson.GetBytes(r.Result, "resultType").Str == "input_required" {
		go x.fulfil(r.Result)
		return
	}
	x.complete(outcome{r, err})
}

// complete hands the upstream's outcome to the client request waiting
// for it; while a retry is awaited it is kept for the retry.
func (x *exchange) complete(o outcome) {
	x.mu.Lock()
	if x.done {
		x.mu.Unlock()
		return
	}
	if x.t == nil && !x.expired && x.cancelErr == nil {
		x.final = &o
		x.mu.Unlock()
		return
	}
	x.done = true
	t, asks, stop := x.t, x.asks, x.stop
	x.asks = nil
	if x.timer != nil {
		x.timer.Stop()
	}
	x.mu.Unlock()
	if x.modern {
		x.s.xs.remove(x)
	}
	if stop != nil {
		stop()
	}
	refuse(asks, "the call it belongs to has ended")
	if t != nil {
		x.write(*t, o.r, o.err)
	}
}

func refuse(asks []*pendingAsk, why string) {
	for _, a := range asks {
		a.reply(nil, rpcError(mcp.INTERNAL_ERROR, why))
	}
}

// declares says whether caps (raw client capabilities) allow method.
func declares(caps json.RawMessage, method string) bool {
	switch method {
	case string(mcp.MethodElicitationCreate):
		return gjson.GetBytes(caps, "elicitation").Exists()
	case string(mcp.MethodSamplingCreateMessage):
		return gjson.GetBytes(caps, "sampling").Exists()
	case string(mcp.MethodListRoots):
		return gjson.GetBytes(caps, "roots").Exists()
	}
	return false
}

// ask takes an upstream's request for the 2026-07-28 client: the client's
// call is answered with input_required at once if it waits, or the
// request goes with the next round.
func (x *exchange) ask(method string, params json.RawMessage, reply func(result, rpcErr json.RawMessage)) {
	x.mu.Lock()
	if x.done {
		x.mu.Unlock()
		reply(nil, rpcError(mcp.INTERNAL_ERROR, "the call it belongs to has ended"))
		return
	}
	if !declares(x.caps, method) {
		x.mu.Unlock()
		reply(nil, rpcError(mcp.METHOD_NOT_FOUND, "the client did not declare the capability "+method+" needs"))
		return
	}
	x.keys++
	x.asks = append(x.asks, &pendingAsk{key: "input-" + strconv.Itoa(x.keys), method: method, params: params, reply: reply})
	if x.t == nil {
		x.mu.Unlock()
		return
	}
	t := *x.t
	x.t = nil
	body := x.inputRequiredLocked()
	x.mu.Unlock()
	x.s.answer(t.env, body)
	t.ended()
}

// inputRequiredLocked is the input_required result naming every request
// not answered yet, with a fresh requestState; the exchange then awaits
// the retry, at most the request timeout. x.mu held.
func (x *exchange) inputRequiredLocked() json.RawMessage {
	x.clientRound++
	timeout := x.s.holdTimeout()
	state := x.s.signer.seal(heldState{Exchange: x.id, Round: x.clientRound, Binding: x.bind, Expires: time.Now().Add(timeout).UnixMilli()})
	out := []byte(`{"resultType":"input_required","inputRequests":{`)
	for i, a := range x.asks {
		a.sent = true
		if i > 0 {
			out = append(out, ',')
		}
		out = jsonrpc.AppendString(out, a.key)
		out = append(out, `:{"method":`...)
		out = jsonrpc.AppendString(out, a.method)
		if len(a.params) > 0 {
			out = append(out, `,"params":`...)
			out = append(out, a.params...)
		}
		out = append(out, '}')
	}
	out = append(out, `},"requestState":`...)
	out = jsonrpc.AppendString(out, state)
	if x.timer != nil {
		x.timer.Stop()
	}
	x.timer = time.AfterFunc(timeout, x.expire)
	return append(out, '}')
}

// expire ends an exchange whose client never retried: the upstream's call
// is cancelled.
func (x *exchange) expire() {
	x.mu.Lock()
	if x.t != nil || x.done {
		x.mu.Unlock()
		return
	}
	x.expired = true
	final := x.final
	x.mu.Unlock()
	if final != nil {
		x.complete(*final)
		return
	}
	x.cancel(fmt.Errorf("the client did not retry within %s", x.s.holdTimeout()))
}

// holdTimeout is how long an upstream's call is held for a client's
// retry: the request timeout, or ten minutes when requests have none.
func (s *Server) holdTimeout() time.Duration {
	if t := s.p.RequestTimeout(); t > 0 {
		return t
	}
	return 10 * time.Minute
}

// resume continues an exchange with a 2026-07-28 client's retry: the
// inputResponses answer the upstream's held requests, and the retry waits
// for what comes next.
func (s *Server) resume(env envelope, c *call, ended func(), state string) {
	fail := func(msg string) {
		s.writeError(env.ID, mcp.INVALID_PARAMS, msg)
		ended()
	}
	st, err := s.signer.verify(state, time.Now())
	if err != nil {
		fail(err.Error())
		return
	}
	x := s.xs.get(st.Exchange)
	if x == nil {
		fail("requestState continues a request that has ended")
		return
	}
	if st.Binding != binding(env.Method, env.Params) {
		fail("requestState belongs to another request: retry with the original request's method, name and arguments")
		return
	}
	responses := gjson.GetBytes(env.Params, "inputResponses")
	x.mu.Lock()
	if x.done || x.t != nil || st.Round != x.clientRound {
		x.mu.Unlock()
		fail("requestState was used already: each input_required is answered by one retry")
		return
	}
	if x.timer != nil {
		x.timer.Stop()
	}
	x.t, x.caps = &target{env: env, c: c, server: x.server, ended: ended}, env.rev.caps
	type answered struct {
		a      *pendingAsk
		result json.RawMessage
	}
	var got []answered
	var left []*pendingAsk
	for _, a := range x.asks {
		if r := responses.Get(a.key); a.sent && r.IsObject() {
			got = append(got, answered{a, json.RawMessage(r.Raw)})
		} else {
			left = append(left, a)
		}
	}
	x.asks = left
	final := x.final
	x.final = nil
	var again json.RawMessage
	if len(left) > 0 {
		// What the client left unanswered, and what came since, is asked
		// again, as the revision says.
		x.t = nil
		again = x.inputRequiredLocked()
	}
	x.mu.Unlock()
	c.setCancel(x.cancel)
	for _, g := range got {
		g.a.reply(g.result, nil)
	}
	switch {
	case again != nil:
		s.answer(env, again)
		ended()
	case final != nil:
		x.complete(*final)
	}
}

// fulfil asks a client of an initialize revision what a 2026-07-28
// upstream's input_required result asks for, and retries the upstream
// with the answers.
func (x *exchange) fulfil(result json.RawMessage) {
	x.mu.Lock()
	x.serverRounds++
	if x.ctx == nil {
		x.ctx, x.stop = context.WithCancel(context.Background())
	}
	ctx, rounds, cerr := x.ctx, x.serverRounds, x.cancelErr
	x.mu.Unlock()
	if cerr == nil {
		cerr = ctx.Err()
	}
	if cerr != nil {
		x.complete(outcome{err: cerr})
		return
	}
	if rounds > maxRounds {
		x.complete(outcome{err: fmt.Errorf("server %q asked for input %d times in one request; giving up", x.server, maxRounds)})
		return
	}
	r := gjson.ParseBytes(result)
	responses := []byte("{}")
	var failed error
	r.Get("inputRequests").ForEach(func(key, req gjson.Result) bool {
		method := req.Get("method").Str
		if !x.s.clientDeclares(method) {
			failed = fmt.Errorf("server %q asked the client for %s, which it did not declare", x.server, method)
			return false
		}
		var params json.RawMessage
		if p := req.Get("params"); p.Exists() {
			params = json.RawMessage(p.Raw)
		}
		// A client that never answers fails the call at the request
		// timeout, as a silent server would.
		actx, cancel := context.WithTimeout(ctx, x.s.holdTimeout())
		res, rpcErr, err := x.s.askClient(actx, x.server, method, params)
		cancel()
		switch {
		case err != nil:
			failed = fmt.Errorf("the client did not answer %s for server %q: %w", method, x.server, err)
		case rpcErr != nil:
			failed = fmt.Errorf("the client refused %s from server %q: %s", method, x.server, gjson.GetBytes(rpcErr, "message").Str)
		default:
			responses, err = sjson.SetRawBytes(responses, sjsonKey(key.Str), res)
			failed = err
		}
		return failed == nil
	})
	if failed != nil {
		x.complete(outcome{err: failed})
		return
	}
	params, err := sjson.SetRawBytes(x.params, "inputResponses", responses)
	if err == nil {
		if st := r.Get("requestState"); st.Exists() {
			params, err = sjson.SetRawBytes(params, "requestState", []byte(st.Raw))
		} else {
			params, err = sjson.DeleteBytes(params, "requestState")
		}
	}
	if err != nil {
		x.complete(outcome{err: fmt.Errorf("could not retry the request with the client's answers: %w", err)})
		return
	}
	x.send(params)
}

// sjsonKey escapes a member name for an sjson path.
func sjsonKey(k string) string {
	return strings.NewReplacer(".", `\.`, "*", `\*`, "?", `\?`, "|", `\|`, "#", `\#`, "@", `\@`, ":", `\:`).Replace(k)
}

// clientDeclares says whether the client declared, at initialize, the
// capability method needs.
func (s *Server) clientDeclares(method string) bool {
	c := s.clientCaps.Load()
	if c == nil {
		return false
	}
	raw, _ := json.Marshal(c)
	return declares(raw, method)
}

// askClient sends the client a request on an upstream's behalf and waits
// for its answer, or for ctx to end (the client is then told).
func (s *Server) askClient(ctx context.Context, server, method string, params json.RawMessage) (result, rpcErr json.RawMessage, err error) {
	type answer struct{ result, rpcErr json.RawMessage }
	ch := make(chan answer, 1)
	s.asks.mu.Lock()
	s.asks.bridged++
	id := json.RawMessage(strconv.Quote("mrtr-" + strconv.FormatInt(s.asks.bridged, 10)))
	s.asks.mu.Unlock()
	s.relay(server, method, id, params, func(result, rpcErr json.RawMessage) { ch <- answer{result, rpcErr} })
	select {
	case a := <-ch:
		return a.result, a.rpcErr, nil
	case <-ctx.Done():
		s.upstreamCancelled(server, json.RawMessage(`{"requestId":`+string(id)+`}`))
		return nil, nil, ctx.Err()
	}
}
