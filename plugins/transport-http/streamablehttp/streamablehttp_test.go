package streamablehttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/transport-http/streamablehttp"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk/sdktest"
)

// Every test runs twice: with the messages on the gRPC stream, then on the
// socket pair beside it (sdk's DATA_PATH_FRAMES), as the proxy runs it.
var direct bool

func TestMain(m *testing.M) { os.Exit(sdktest.BothDataPaths(m, &direct)) }

// These tests run the real transport in-process through sdktest, over gRPC,
// against the host-side client the proxy uses, and small HTTP servers that
// each play one part of the specification.

const initReq = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

func initResult(version string) string {
	return `{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"` + version + `","capabilities":{"tools":{}},"serverInfo":{"name":"s","version":"1"}}}`
}

func open(t *testing.T, url string) sdk.ClientSession {
	t.Helper()
	sess, err := tryOpen(t, url, nil)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return sess
}

func tryOpen(t *testing.T, url string, options []byte) (sdk.ClientSession, error) {
	t.Helper()
	client := sdktest.Transport(t, streamablehttp.New("test"))
	if direct {
		client = sdktest.TransportDirect(t, streamablehttp.New("test"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess, err := client.Open(ctx, sdk.SessionSpec{
		Server: "t", Transport: "http", URL: url, Options: options,
		Headers: map[string]string{"X-Team": "blue"},
	})
	if err == nil {
		t.Cleanup(sess.Abort)
		if want := map[bool]string{false: "stream", true: "frames"}[direct]; sdk.DataPathOf(sess) != want {
			t.Fatalf("data path %s, want %s", sdk.DataPathOf(sess), want)
		}
	}
	return sess, err
}

// nextMessage returns the next message, failing on an event.
func nextMessage(t *testing.T, sess sdk.ClientSession) string {
	t.Helper()
	if q := leftover[sess]; len(q) > 0 {
		leftover[sess] = q[1:]
		return q[0]
	}
	f := sdktest.Recv(t, sess)
	if f.Event != nil || len(f.Messages) == 0 {
		t.Fatalf("want a message, got %+v", f)
	}
	// Messages that arrive together may share a frame (always so on the
	// direct path's socket).
	for _, m := range f.Messages[1:] {
		leftover[sess] = append(leftover[sess], string(m))
	}
	return string(f.Messages[0])
}

// leftover are messages received in a frame beside the one asked for.
var leftover = map[sdk.ClientSession][]string{}

// nextEvent returns the next event, failing on a message.
func nextEvent(t *testing.T, sess sdk.ClientSession) sdk.Event {
	t.Helper()
	if q := leftover[sess]; len(q) > 0 {
		t.Fatalf("want an event, got messages %q", q)
	}
	f := sdktest.Recv(t, sess)
	if f.Event == nil {
		t.Fatalf("want an event, got messages %q", f.Messages)
	}
	return f.Event
}

func send(t *testing.T, sess sdk.ClientSession, msg string) {
	t.Helper()
	if err := sess.Send([]byte(msg)); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// recorder keeps what a test server saw.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
}

type seen struct {
	method  string
	header  http.Header
	body    string
	started time.Time
}

func (r *recorder) add(req *http.Request) string {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, seen{req.Method, req.Header.Clone(), string(body), time.Now()})
	r.mu.Unlock()
	return string(body)
}

func (r *recorder) all() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.reqs...)
}

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestJSONAnswersSessionAndClose(t *testing.T) {
	var rec recorder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := rec.add(r)
		switch {
		case r.Method == http.MethodGet:
			w.WriteHeader(http.StatusMethodNotAllowed)
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusOK)
		case strings.Contains(body, `"initialize"`):
			w.Header().Set("Mcp-Session-Id", "sess-1")
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, initResult("2025-06-18"))
		case strings.Contains(body, `"tools/list"`):
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":2,"result":{"tools":[],"$extra":1}}`)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	defer srv.Close()

	sess := open(t, srv.URL+"/mcp")
	send(t, sess, initReq)
	if got := nextMessage(t, sess); got != initResult("2025-06-18") {
		t.Fatalf("initialize answer changed on the way: %s", got)
	}
	send(t, sess, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	send(t, sess, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	if got := nextMessage(t, sess); got != `{"jsonrpc":"2.0","id":2,"result":{"tools":[],"$extra":1}}` {
		t.Fatalf("tools/list answer: %s", got)
	}
	if err := sess.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, sess)
	if ex, ok := ev.(sdk.Exited); !ok || ex.Reason != "closed by host" {
		t.Fatalf("want Exited(closed by host), got %#v", ev)
	}

	var deleted bool
	for _, r := range rec.all() {
		if r.header.Get("X-Team") != "blue" {
			t.Errorf("%s without the configured header", r.method)
		}
		isInit := strings.Contains(r.body, `"initialize"`)
		if sid := r.header.Get("Mcp-Session-Id"); isInit != (sid == "") || (!isInit && sid != "sess-1") {
			t.Errorf("%s %s: Mcp-Session-Id %q", r.method, r.body, sid)
		}
		if v := r.header.Get("MCP-Protocol-Version"); isInit != (v == "") || (!isInit && v != "2025-06-18") {
			t.Errorf("%s %s: MCP-Protocol-Version %q", r.method, r.body, v)
		}
		if r.method == http.MethodPost && r.header.Get("Accept") != "application/json, text/event-stream" {
			t.Errorf("POST Accept = %q", r.header.Get("Accept"))
		}
		deleted = deleted || r.method == http.MethodDelete
	}
	if !deleted {
		t.Error("the session was not ended with DELETE")
	}
}

// sseServer answers initialize with JSON and tools/call with an event
// stream that breaks after its first event; the rest comes on a GET with
// Last-Event-ID.
func TestEventStreamResumedAfterDrop(t *testing.T) {
	var rec recorder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := rec.add(r)
		switch {
		case r.Method == http.MethodGet && r.Header.Get("Last-Event-ID") == "ev-1":
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = fmt.Fprint(w, "id: ev-2\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"done\"}]}}\n\n")
		case r.Method == http.MethodGet:
			w.WriteHeader(http.StatusMethodNotAllowed)
		case strings.Contains(body, `"initialize"`):
			w.Header().Set("Mcp-Session-Id", "s")
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, initResult("2025-11-25"))
		case strings.Contains(body, `"tools/call"`):
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = fmt.Fprint(w, "id: ev-0\ndata:\n\n") // a priming event
			_, _ = fmt.Fprint(w, "retry: 10\nid: ev-1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":1}}\n\n")
			w.(http.Flusher).Flush()
			// Break the connection instead of ending the stream.
			conn, _, _ := w.(http.Hijacker).Hijack()
			_ = conn.Close()
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	defer srv.Close()

	sess := open(t, srv.URL)
	send(t, sess, initReq)
	nextMessage(t, sess)
	send(t, sess, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"slow","_meta":{"progressToken":1}}}`)
	if got := nextMessage(t, sess); !strings.Contains(got, "notifications/progress") {
		t.Fatalf("first: %s", got)
	}
	if got := nextMessage(t, sess); !strings.Contains(got, `"text":"done"`) {
		t.Fatalf("after the resume: %s", got)
	}
	var resumed int
	for _, r := range rec.all() {
		if r.method == http.MethodGet && r.header.Get("Last-Event-ID") == "ev-1" {
			resumed++
			if r.header.Get("Mcp-Session-Id") != "s" {
				t.Errorf("resume without the session id")
			}
		}
	}
	if resumed != 1 {
		t.Fatalf("resumed %d times, want 1", resumed)
	}
}

func TestStreamThatCannotResumeFailsTheRequest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		// No event id: nothing to resume from.
		_, _ = fmt.Fprint(w, "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{}}\n\n")
	}))
	defer srv.Close()
	sess := open(t, srv.URL)
	send(t, sess, `{"jsonrpc":"2.0","id":"a-1","method":"tools/call","params":{"name":"x"}}`)
	nextMessage(t, sess) // the notification
	got := nextMessage(t, sess)
	if !strings.Contains(got, `"id":"a-1"`) || !strings.Contains(got, `"error"`) || !strings.Contains(got, "ended before it answered") {
		t.Fatalf("want an error answer for the request, got %s", got)
	}
}

func TestExpiredSessionIsReported(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.Method == http.MethodGet:
			w.WriteHeader(http.StatusMethodNotAllowed)
		case strings.Contains(string(body), `"initialize"`):
			w.Header().Set("Mcp-Session-Id", "old")
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, initResult("2025-06-18"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	sess := open(t, srv.URL)
	send(t, sess, initReq)
	nextMessage(t, sess)
	send(t, sess, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	if ev, ok := nextEvent(t, sess).(sdk.SessionExpired); !ok || !strings.Contains(ev.Detail, "old") {
		t.Fatalf("want SessionExpired naming the session, got %#v", ev)
	}
	if _, ok := nextEvent(t, sess).(sdk.Exited); !ok {
		t.Fatal("SessionExpired was not followed by Exited")
	}
}

func TestUnauthorized(t *testing.T) {
	const challenge = `Bearer resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource"`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", challenge)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	sess := open(t, srv.URL)
	send(t, sess, initReq)
	ev, ok := nextEvent(t, sess).(sdk.AuthRequired)
	if !ok || ev.Status != 401 || ev.WWWAuthenticate != challenge {
		t.Fatalf("want AuthRequired with the challenge, got %#v", ev)
	}
	if _, ok := nextEvent(t, sess).(sdk.Exited); !ok {
		t.Fatal("AuthRequired was not followed by Exited")
	}
}

func TestNotStreamableHTTP(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		body        string
		unsupported bool
	}{
		{"405 plain", http.StatusMethodNotAllowed, "Method Not Allowed", true},
		{"404 html", http.StatusNotFound, "<html>nope</html>", true},
		{"400 json-rpc error", http.StatusBadRequest, `{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"bad"}}`, false},
		// A server that rejects the POST before reading it answers id
		// null; the answer is still the request's.
		{"400 json-rpc error with id null", http.StatusBadRequest, `{"jsonrpc":"2.0","error":{"code":-32000,"message":"Bad Request: Server not initialized"},"id":null}`, false},
		{"500", http.StatusInternalServerError, "boom", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(c.status)
				_, _ = io.WriteString(w, c.body)
			}))
			defer srv.Close()
			sess := open(t, srv.URL)
			send(t, sess, initReq)
			f := sdktest.Recv(t, sess)
			ev, isUnsupported := f.Event.(sdk.Unsupported)
			if isUnsupported != c.unsupported {
				t.Fatalf("got %#v / %q", f.Event, f.Messages)
			}
			if c.unsupported && ev.Status != c.status {
				t.Fatalf("status %d", ev.Status)
			}
			if !c.unsupported && (len(f.Messages) != 1 || !strings.Contains(string(f.Messages[0]), `"error"`) || !strings.Contains(string(f.Messages[0]), `"id":1`)) {
				t.Fatalf("want an error answer to id 1, got %q", f.Messages)
			}
		})
	}
}

// The server's own messages come on the GET stream, which is reopened
// with Last-Event-ID when it drops.
func TestListenStream(t *testing.T) {
	var rec recorder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := rec.add(r)
		switch {
		case r.Method == http.MethodGet && r.Header.Get("Last-Event-ID") == "":
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = fmt.Fprint(w, "retry: 10\nid: g1\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"srv-1\",\"method\":\"roots/list\"}\n\n")
		case r.Method == http.MethodGet:
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = fmt.Fprint(w, "id: g2\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}\n\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		case strings.Contains(body, `"initialize"`):
			w.Header().Set("Mcp-Session-Id", "s")
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, initResult("2025-06-18"))
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	defer srv.Close()
	sess := open(t, srv.URL)
	send(t, sess, initReq)
	if got := nextMessage(t, sess); got != initResult("2025-06-18") {
		t.Fatalf("the initialize answer must come first, before anything on the GET stream: %s", got)
	}
	send(t, sess, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	if got := nextMessage(t, sess); !strings.Contains(got, "roots/list") {
		t.Fatalf("first GET stream: %s", got)
	}
	if got := nextMessage(t, sess); !strings.Contains(got, "list_changed") {
		t.Fatalf("second GET stream: %s", got)
	}
	// The client's answer to the server's request goes out as a POST.
	send(t, sess, `{"jsonrpc":"2.0","id":"srv-1","result":{"roots":[]}}`)
	waitFor(t, "the answer POST", func() bool {
		for _, r := range rec.all() {
			if r.method == http.MethodPost && strings.Contains(r.body, `"srv-1"`) {
				return true
			}
		}
		return false
	})
	var lastIDs []string
	for _, r := range rec.all() {
		if r.method == http.MethodGet {
			lastIDs = append(lastIDs, r.header.Get("Last-Event-ID"))
		}
	}
	if len(lastIDs) != 2 || lastIDs[0] != "" || lastIDs[1] != "g1" {
		t.Fatalf("GET streams with Last-Event-ID %q, want [\"\" g1]", lastIDs)
	}
	// Closing the session ends the open GET stream.
	if err := sess.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	if _, ok := nextEvent(t, sess).(sdk.Exited); !ok {
		t.Fatal("no Exited after Close")
	}
}

// A cancelled request's POST is abandoned once the server was told.
func TestCancelAbortsThePOST(t *testing.T) {
	aborted := make(chan struct{})
	var cancelled sync.Once
	gotCancel := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case strings.Contains(string(body), `"tools/call"`):
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			close(aborted)
		case strings.Contains(string(body), `notifications/cancelled`):
			cancelled.Do(func() { close(gotCancel) })
			w.WriteHeader(http.StatusAccepted)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	defer srv.Close()
	sess := open(t, srv.URL)
	send(t, sess, `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"slow"}}`)
	time.Sleep(50 * time.Millisecond)
	send(t, sess, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9,"reason":"timeout"}}`)
	for _, ch := range []chan struct{}{gotCancel, aborted} {
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatal("the server was not told, or the POST was not abandoned")
		}
	}
}

// The 2026-07-28 revision has no session: the version comes from each
// request's _meta, with the Mcp-Method and Mcp-Name headers it requires.
func TestStatelessRevisionHeaders(t *testing.T) {
	var rec recorder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":3,"result":{"content":[]}}`)
	}))
	defer srv.Close()
	sess := open(t, srv.URL)
	send(t, sess, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`)
	nextMessage(t, sess)
	r := rec.all()[0]
	for k, want := range map[string]string{"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "echo", "Mcp-Session-Id": ""} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestURLPolicy(t *testing.T) {
	if _, err := tryOpen(t, "http://example.com/mcp", nil); err == nil || !strings.Contains(err.Error(), "allow_http") {
		t.Fatalf("plain http to a remote host: %v", err)
	}
	if _, err := tryOpen(t, "http://example.com/mcp", []byte(`{"allow_http":true}`)); err != nil {
		t.Fatalf("with allow_http: %v", err)
	}
	if _, err := tryOpen(t, "ftp://127.0.0.1/", nil); err == nil {
		t.Fatal("ftp accepted")
	}
	// Certificates are verified: a self-signed server is refused.
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, initResult("2025-06-18"))
	}))
	defer srv.Close()
	sess := open(t, srv.URL)
	send(t, sess, initReq)
	got := nextMessage(t, sess)
	if !strings.Contains(got, `"error"`) || !strings.Contains(got, "certificate") {
		t.Fatalf("self-signed certificate accepted: %s", got)
	}
}

func TestSendAfterEnd(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	sess := open(t, srv.URL)
	send(t, sess, initReq)
	nextEvent(t, sess)
	nextEvent(t, sess)
	if _, err := sess.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("after Exited: %v, want io.EOF", err)
	}
}

// TestMalformedJSONAnswerFailsAtOnce: an answer that is not JSON under
// application/json fails its request at once, saying what came back, and
// the session stays up for the next request; lines of JSON-RPC holding
// the answer (a notification, then the result, as some servers send
// them) are read one by one.
func TestMalformedJSONAnswerFailsAtOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method != http.MethodPost:
			w.WriteHeader(http.StatusMethodNotAllowed)
		case strings.Contains(string(body), `"initialize"`):
			_, _ = io.WriteString(w, initResult("2025-06-18"))
		case strings.Contains(string(body), `"id":2`):
			_, _ = io.WriteString(w, `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t","progress":1}}`+"\n"+
				`{"jsonrpc":"2.0","id":2,"result":{"content":[]}}`+"\n")
		case strings.Contains(string(body), `"id":4`):
			_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":4,"result":{}}`+"\n<html>oops</html>")
		case strings.Contains(string(body), `"id":3`):
			_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":3,"result":{"tools":[]}}`)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	defer srv.Close()
	sess := open(t, srv.URL+"/mcp")
	send(t, sess, initReq)
	nextMessage(t, sess)
	send(t, sess, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x","arguments":{}}}`)
	if got := nextMessage(t, sess); !strings.Contains(got, `"notifications/progress"`) {
		t.Fatalf("the first of two lines: %s", got)
	}
	if got := nextMessage(t, sess); got != `{"jsonrpc":"2.0","id":2,"result":{"content":[]}}` {
		t.Fatalf("the second of two lines: %s", got)
	}
	send(t, sess, `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"x","arguments":{}}}`)
	got := nextMessage(t, sess)
	if !strings.Contains(got, `"id":4`) || !strings.Contains(got, `"error"`) || !strings.Contains(got, "not JSON") || !strings.Contains(got, "oops") {
		t.Fatalf("a malformed answer: %s", got)
	}
	send(t, sess, `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`)
	if got := nextMessage(t, sess); got != `{"jsonrpc":"2.0","id":3,"result":{"tools":[]}}` {
		t.Fatalf("the next request: %s", got)
	}
}
