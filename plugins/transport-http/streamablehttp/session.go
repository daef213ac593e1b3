package streamablehttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/internal/remote"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/internal/sse"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

const (
	headerSessionID       = "Mcp-Session-Id"
	headerProtocolVersion = "MCP-Protocol-Version"
	headerLastEventID     = "Last-Event-ID"

	// maxResumes bounds how often one POST's broken event stream is
	// resumed, and maxListenFailures how many GET streams in a row may fail
	// or end empty before the session stops listening.
	maxResumes        = 5
	maxListenFailures = 5
	// defaultRetry is the wait before reconnecting when the server named
	// none; maxRetry caps both.
	defaultRetry = 500 * time.Millisecond
	maxRetry     = 30 * time.Second
	// listenOpenTimeout bounds how long messages wait for the GET stream
	// to open.
	listenOpenTimeout = 2 * time.Second
)

// metaVersionPath finds the protocol version a 2026-07-28 request carries
// in its _meta.
var metaVersionPath = "params._meta." + escapePath(mcp.MetaKeyProtocolVersion)

func escapePath(s string) string {
	var b bytes.Buffer
	for _, c := range s {
		if c == '.' || c == '*' || c == '?' {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

type session struct {
	client *http.Client
	url    *url.URL
	header http.Header
	log    hclog.Logger
	// life ends the session; POSTs and the GET stream are its work.
	life *remote.Life
	// linesOnce warns, once, of a server writing JSON lines as JSON.
	linesOnce sync.Once

	mu        sync.Mutex
	sessionID string
	version   string // negotiated at initialize
	// headerTools are the tools whose calls carry Mcp-Param-* headers.
	headerTools map[string]*mcp.Tool
	// listenUp is set when the GET stream opens, and closed once its first
	// request has been answered (or failed): messages wait for it, so that
	// nothing the server sends on that stream in reply to them is missed.
	listenUp chan struct{}
	inflight map[string]context.CancelFunc // POSTs of requests, by raw id
}

func newSession(client *http.Client, u *url.URL, header http.Header, peer sdk.Peer) *session {
	ctx, cancel := context.WithCancel(context.Background())
	return &session{
		client:   client,
		url:      u,
		header:   header,
		log:      peer.Logger(),
		life:     remote.NewLife(ctx, cancel, peer),
		inflight: make(map[string]context.CancelFunc),
	}
}

// ReadyDetail names the server without its query, which may hold a key.
func (s *session) ReadyDetail() string {
	return s.url.Scheme + "://" + s.url.Host + s.url.Path
}

// Send implements sdk.Session: each message is one POST, made on its own
// goroutine so that a long call does not hold up the others.
func (s *session) Send(_ context.Context, msgs ...[]byte) error {
	for _, m := range msgs {
		body := bytes.Clone(m) // msgs are not ours after Send returns
		msg := remote.Classify(body)
		ctx, cancel := context.WithCancel(s.life.Ctx)
		if msg.IsRequest() {
			s.mu.Lock()
			s.inflight[string(msg.ID)] = cancel
			s.mu.Unlock()
		}
		if !s.life.Go(func() { s.post(ctx, cancel, msg, body) }) {
			cancel()
			return remote.ErrEnded
		}
	}
	return nil
}

// post sends one message and hands on whatever comes back.
func (s *session) post(ctx context.Context, cancel context.CancelFunc, msg remote.Msg, body []byte) {
	defer cancel()
	if msg.IsRequest() {
		defer func() {
			s.mu.Lock()
			delete(s.inflight, string(msg.ID))
			s.mu.Unlock()
		}()
	}
	if msg.Method == string(mcp.MethodNotificationCancelled) {
		// Once the server has been told, stop reading the request's answer.
		defer s.abortRequest(gjson.GetBytes(body, "params.requestId").Raw)
	}
	s.mu.Lock()
	up := s.listenUp
	s.mu.Unlock()
	if up != nil {
		select {
		case <-up:
		case <-ctx.Done():
			return
		}
	}
	req, sentSession := s.newRequest(ctx, http.MethodPost, body, msg)
	resp, err := remote.Do(s.client, req)
	if err != nil {
		if ctx.Err() != nil {
			return // the session ended or the core cancelled the request
		}
		s.failRequest(msg, "POST "+s.ReadyDetail()+": "+err.Error())
		return
	}
	if ev, ok := remote.AuthChallenge(resp); ok {
		remote.Drain(resp.Body)
		s.life.End(ev, "the server requires authorization")
		return
	}
	if resp.StatusCode == http.StatusNotFound && sentSession != "" {
		remote.Drain(resp.Body)
		s.life.End(sdk.SessionExpired{Detail: "the server answered 404 for session " + sentSession}, "session expired")
		return
	}
	isInit := msg.Method == string(mcp.MethodInitialize)
	switch {
	case resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusNoContent:
		remote.Drain(resp.Body)
		if msg.IsRequest() {
			s.failRequest(msg, "the server accepted the request without answering it")
		}
	case resp.StatusCode/100 == 2:
		if isInit {
			s.noteSession(resp.Header.Get(headerSessionID))
		}
		if isEventStream(resp) {
			s.readPostStream(ctx, resp.Body, msg)
			return
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, sdk.MaxMessageBytes+1))
		_ = resp.Body.Close()
		switch {
		case err != nil && ctx.Err() != nil:
		case err != nil:
			s.failRequest(msg, "reading the answer: "+err.Error())
		case len(data) > sdk.MaxMessageBytes:
			s.failRequest(msg, "the answer is larger than "+strconv.Itoa(sdk.MaxMessageBytes)+" bytes")
		case len(bytes.TrimSpace(data)) == 0:
			if msg.IsRequest() {
				s.failRequest(msg, "the server answered with an empty body")
			}
		case !json.Valid(data):
			// Not what its Content-Type says. Lines of JSON-RPC that hold
			// the answer (a progress notification, then the result, as
			// some servers write them) are read one by one; anything else
			// fails this request at once, saying what came back, instead
			// of leaving it to its timeout. The session is sound either way.
			msgs, ok := remote.JSONLines(data)
			if !ok || !remote.Answers(msgs, msg) {
				s.failRequest(msg, "the server's answer is not JSON, as its Content-Type "+
					strconv.Quote(resp.Header.Get("Content-Type"))+" says; it sent "+strconv.Itoa(len(data))+" bytes: "+strconv.Quote(remote.Excerpt(data)))
				break
			}
			s.linesOnce.Do(func() {
				s.log.Warn("the server sends lines of JSON under application/json; read one by one", "url", s.ReadyDetail())
			})
			for _, m := range msgs {
				s.deliver(msg, remote.Attribute(m, msg))
			}
		default:
			s.deliver(msg, remote.Attribute(data, msg))
		}
	default:
		data := remote.ReadErrorBody(resp.Body)
		if remote.IsJSONRPC(data) {
			s.deliver(msg, remote.Attribute(data, msg))
			return
		}
		if isInit && (resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed) {
			// Not a streamable HTTP endpoint: an older SSE server, most
			// likely. The core decides whether to try that transport.
			s.life.End(sdk.Unsupported{Status: resp.StatusCode, Detail: remote.Describe(resp.StatusCode, data)},
				"the server does not speak streamable HTTP")
			return
		}
		if msg.IsRequest() {
			s.failRequest(msg, remote.Describe(resp.StatusCode, data))
			return
		}
		s.log.Warn("the server refused a message", "method", msg.Method, "status", resp.StatusCode, "body", remote.Describe(resp.StatusCode, data))
	}
}

// abortRequest ends the POST of the request with raw id, if still open.
func (s *session) abortRequest(id string) {
	s.mu.Lock()
	cancel := s.inflight[id]
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// newRequest builds a request to the server with the session's headers; it
// returns the session id it carries.
func (s *session) newRequest(ctx context.Context, method string, body []byte, msg remote.Msg) (*http.Request, string) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequestWithContext(ctx, method, s.url.String(), rd)
	req.Header = s.header.Clone()
	switch method {
	case http.MethodPost:
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
	case http.MethodGet:
		req.Header.Set("Accept", "text/event-stream")
	}
	s.mu.Lock()
	sid, version := s.sessionID, s.version
	s.mu.Unlock()
	if body != nil {
		// A 2026-07-28 request names its protocol version itself, and
		// belongs to no session.
		if v := gjson.GetBytes(body, metaVersionPath).Str; v != "" {
			version = v
			if mcp.IsModernProtocol(v) {
				sid = ""
			}
		}
	}
	if sid != "" {
		req.Header.Set(headerSessionID, sid)
	}
	if version != "" {
		req.Header.Set(headerProtocolVersion, version)
	}
	if msg.Method != "" && mcp.RequiresStandardHeaders(version) {
		params := []byte(gjson.GetBytes(body, "params").Raw)
		for k, v := range mcp.StandardHeaders(version, mcp.MCPMethod(msg.Method), params) {
			req.Header.Set(k, v)
		}
		if msg.Method == string(mcp.MethodToolsCall) {
			if tool := s.headerTool(gjson.GetBytes(params, "name").Str); tool != nil {
				for k, v := range mcp.GenerateParamHeaders(tool, params) {
					req.Header.Set(k, v)
				}
			}
		}
	}
	return req, sid
}

func isEventStream(resp *http.Response) bool {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return mt == "text/event-stream"
}

// noteSession records the session id the server assigned at initialize.
func (s *session) noteSession(id string) {
	if id == "" {
		return
	}
	s.mu.Lock()
	s.sessionID = id
	s.mu.Unlock()
}

// deliver passes what answered msg to the core. The answer to initialize
// also fixes the protocol version sent from then on; it is read before the
// core sees the answer, so the core's next message already carries it.
func (s *session) deliver(msg remote.Msg, data []byte) {
	var up chan struct{}
	if msg.Method == string(mcp.MethodInitialize) {
		if v := gjson.GetBytes(data, "result.protocolVersion").Str; v != "" {
			s.mu.Lock()
			s.version = v
			s.mu.Unlock()
			// The session exists now: the GET stream opens, and the
			// client's next message (initialized, which servers often
			// answer on that stream at once) waits for it. It opens after
			// this answer is delivered, so nothing overtakes the answer.
			up = s.prepareListening()
		}
	}
	if msg.Method == string(mcp.MethodToolsList) {
		s.noteHeaderTools(data)
	}
	s.life.Deliver(data)
	if up != nil && !s.life.Go(func() { s.listen(up) }) {
		close(up)
	}
}

// failRequest answers a request the server did not, so the core's caller
// gets an error now rather than at its timeout.
func (s *session) failRequest(msg remote.Msg, why string) {
	s.life.Fail(msg, why)
}

// readPostStream reads the event stream that answers a POST until the
// answer to msg has come. When the stream breaks first, it resumes it with
// a GET carrying Last-Event-ID, as the specification allows.
func (s *session) readPostStream(ctx context.Context, body io.ReadCloser, msg remote.Msg) {
	lastID := ""
	var retry time.Duration
	for attempt := 0; ; attempt++ {
		if body != nil {
			answered, id, r := s.readEvents(body, msg)
			if answered {
				// The server ends the stream after the answer; reading
				// that end lets the connection be reused instead of
				// dialled again for the next message.
				go finish(body)
				return
			}
			_ = body.Close()
			if id != "" {
				lastID = id
			}
			if r > 0 {
				retry = r
			}
		}
		if !msg.IsRequest() || ctx.Err() != nil {
			return
		}
		if lastID == "" {
			s.failRequest(msg, "the server's event stream ended before it answered, and cannot be resumed (no event id)")
			return
		}
		if attempt >= maxResumes {
			s.failRequest(msg, "the server's event stream broke off "+strconv.Itoa(attempt+1)+" times before it answered")
			return
		}
		if !sleep(ctx, retryDelay(retry, 0)) {
			return
		}
		s.log.Debug("resuming a broken event stream", "method", msg.Method, "last_event_id", lastID)
		body = s.resume(ctx, lastID)
	}
}

// finishWait bounds how long a stream's end is waited for after the
// answer came.
const finishWait = time.Second

// finish reads what is left of a body, briefly, and closes it.
func finish(body io.ReadCloser) {
	t := time.AfterFunc(finishWait, func() { _ = body.Close() })
	defer t.Stop()
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 1<<20))
	_ = body.Close()
}

// resume asks for the events after lastID; nil if the server would not.
func (s *session) resume(ctx context.Context, lastID string) io.ReadCloser {
	req, _ := s.newRequest(ctx, http.MethodGet, nil, remote.Msg{})
	req.Header.Set(headerLastEventID, lastID)
	resp, err := remote.Do(s.client, req)
	if err != nil {
		s.log.Debug("resuming the event stream failed", "error", err)
		return nil
	}
	if resp.StatusCode != http.StatusOK || !isEventStream(resp) {
		s.log.Debug("the server refused to resume the event stream", "status", resp.StatusCode)
		remote.Drain(resp.Body)
		return nil
	}
	return resp.Body
}

// readEvents delivers the messages of an event stream. For a request, it
// reports whether the answer came (the stream is then done), and it always
// reports the last event id and retry delay seen.
func (s *session) readEvents(body io.Reader, msg remote.Msg) (answered bool, lastID string, retry time.Duration) {
	r := sse.NewReader(body, sdk.MaxMessageBytes)
	for {
		ev, err := r.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) && s.life.Ctx.Err() == nil {
				s.log.Debug("event stream broke", "error", err)
			}
			return false, r.LastID(), r.Retry()
		}
		if ev.Type != "message" || len(ev.Data) == 0 {
			continue // a priming event, or one MCP does not define
		}
		isAnswer := false
		if msg.IsRequest() {
			got := remote.Classify(ev.Data)
			isAnswer = got.IsResponse() && bytes.Equal(got.ID, msg.ID)
		}
		s.deliver(msg, ev.Data)
		if isAnswer {
			return true, r.LastID(), r.Retry()
		}
	}
}

// prepareListening marks the GET stream as about to open, once, and
// returns the channel listen closes when it has; nil when there is to be no
// stream (the 2026-07-28 revision has none).
func (s *session) prepareListening() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listenUp != nil || mcp.IsModernProtocol(s.version) {
		return nil
	}
	s.listenUp = make(chan struct{})
	return s.listenUp
}

// listen keeps a GET stream open for the session's life, reconnecting
// with Last-Event-ID when it drops. A server that offers no stream answers
// 405; one whose streams keep failing is given up on after a few tries.
func (s *session) listen(up chan struct{}) {
	var once sync.Once
	opened := func() { once.Do(func() { close(up) }) }
	defer opened()
	lastID := ""
	var retry time.Duration
	failures := 0
	for s.life.Ctx.Err() == nil {
		req, _ := s.newRequest(s.life.Ctx, http.MethodGet, nil, remote.Msg{})
		if lastID != "" {
			req.Header.Set(headerLastEventID, lastID)
		}
		// The first answer should come at once; a server that holds it
		// back must not hold up every message.
		t := time.AfterFunc(listenOpenTimeout, opened)
		resp, err := remote.Do(s.client, req)
		t.Stop()
		opened()
		switch {
		case err != nil:
			if s.life.Ctx.Err() != nil {
				return
			}
			failures++
			s.log.Debug("GET stream failed", "error", err)
		case resp.StatusCode == http.StatusOK && isEventStream(resp):
			r := sse.NewReader(resp.Body, sdk.MaxMessageBytes)
			got := 0
			for {
				ev, err := r.Next()
				if err != nil {
					break
				}
				if ev.Type == "message" && len(ev.Data) > 0 {
					got++
					s.deliver(remote.Msg{}, ev.Data)
				}
			}
			_ = resp.Body.Close()
			if id := r.LastID(); id != "" {
				lastID = id
			}
			if r.Retry() > 0 {
				retry = r.Retry()
			}
			if got > 0 {
				failures = 0
			} else {
				failures++
			}
		default:
			if ev, ok := remote.AuthChallenge(resp); ok {
				remote.Drain(resp.Body)
				s.life.End(ev, "the server requires authorization")
				return
			}
			data := remote.ReadErrorBody(resp.Body)
			s.log.Debug("the server offers no GET stream", "answer", remote.Describe(resp.StatusCode, data))
			return
		}
		if failures >= maxListenFailures {
			s.log.Warn("giving up on the server's GET stream after repeated failures; its own messages are still read from POST answers")
			return
		}
		if !sleep(s.life.Ctx, retryDelay(retry, failures)) {
			return
		}
	}
}

// retryDelay is the server's wait, or ours, growing with failures.
func retryDelay(server time.Duration, failures int) time.Duration {
	d := server
	if d <= 0 {
		d = defaultRetry
	}
	for range failures {
		d *= 2
		if d >= maxRetry {
			return maxRetry
		}
	}
	return min(d, maxRetry)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Close implements sdk.Session: it stops what is under way and ends the
// HTTP session with a DELETE, as the specification asks.
func (s *session) Close(ctx context.Context) error {
	s.mu.Lock()
	sid := s.sessionID
	s.mu.Unlock()
	if !s.life.Ended() && sid != "" {
		req, _ := s.newRequest(ctx, http.MethodDelete, nil, remote.Msg{})
		if resp, err := remote.Do(s.client, req); err != nil { //nolint:bodyclose // drained and closed below (remote.Drain)
			s.log.Debug("DELETE of the session failed", "error", err)
		} else {
			// 405 means the server does not let clients end sessions.
			remote.Drain(resp.Body)
		}
	}
	s.life.End(nil, "closed by host")
	s.life.Wait(ctx)
	return nil
}
