package httpfront

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/jsonrpc"
)

// Path is where the front serves MCP.
const Path = "/mcp"

// sessionHeader names a legacy client's session.
const sessionHeader = "Mcp-Session-Id"

// Options configure a Handler.
type Options struct {
	// Token is the bearer token every request must carry.
	Token string
	// Stateless serves every 2026-07-28 request.
	Stateless Core
	// NewSession makes the core of one legacy client's session; end is
	// called when the session is over.
	NewSession func() (core Core, end func(), err error)
	// MaxSessions bounds the legacy sessions open at once (each runs
	// its own upstreams); 0 means 64.
	MaxSessions int
	// IdleSession ends a legacy session with nothing open and no
	// request for this long; 0 means an hour.
	IdleSession time.Duration
	Logger      hclog.Logger
}

// Handler is the streamable HTTP front.
type Handler struct {
	o    Options
	log  hclog.Logger
	ctx  context.Context
	stop context.CancelFunc
	free *stateless

	mu       sync.Mutex
	sessions map[string]*session
}

// New starts the front's stateless frontend; Close ends everything.
func New(o Options) *Handler {
	if o.MaxSessions <= 0 {
		o.MaxSessions = 64
	}
	if o.IdleSession <= 0 {
		o.IdleSession = time.Hour
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	ctx, stop := context.WithCancel(context.Background())
	h := &Handler{o: o, log: o.Logger, ctx: ctx, stop: stop, sessions: map[string]*session{}}
	h.free = newStateless(ctx, o.Stateless, o.Logger.Named("stateless"))
	go h.reap()
	return h
}

// Close ends every session and the stateless frontend.
func (h *Handler) Close() {
	h.mu.Lock()
	all := make([]*session, 0, len(h.sessions))
	for _, s := range h.sessions {
		all = append(all, s)
	}
	h.sessions = map[string]*session{}
	h.mu.Unlock()
	for _, s := range all {
		s.close()
	}
	h.free.c.close()
	h.stop()
}

// reap ends idle sessions, once a minute.
func (h *Handler) reap() {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-tick.C:
		}
		cutoff := time.Now().Add(-h.o.IdleSession)
		h.mu.Lock()
		for id, s := range h.sessions {
			if s.idle(cutoff) {
				delete(h.sessions, id)
				s.close()
			}
		}
		h.mu.Unlock()
	}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if why := refusedHost(r); why != "" {
		http.Error(w, why, http.StatusForbidden)
		return
	}
	if !bearerOK(r.Header.Get("Authorization"), h.o.Token) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ica-mcp-proxy"`)
		http.Error(w, "this proxy needs its bearer token (the file http-token in $ICA_HOME)", http.StatusUnauthorized)
		return
	}
	if r.URL.Path != Path {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodPost:
		h.post(w, r)
	case http.MethodGet:
		s := h.session(w, r)
		if s == nil {
			return
		}
		if !accepts(r, "text/event-stream") {
			http.Error(w, "a GET stream needs Accept: text/event-stream", http.StatusNotAcceptable)
			return
		}
		s.get(w, r)
	case http.MethodDelete:
		s := h.session(w, r)
		if s == nil {
			return
		}
		h.mu.Lock()
		delete(h.sessions, s.id)
		h.mu.Unlock()
		s.close()
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// session finds the request's session, or answers for it: without a
// session id a GET or DELETE names nothing (405: there is no stream
// outside a session), and an unknown id is 404, which tells a client to
// start a new session.
func (h *Handler) session(w http.ResponseWriter, r *http.Request) *session {
	id := r.Header.Get(sessionHeader)
	if id == "" {
		w.Header().Set("Allow", "POST")
		http.Error(w, "GET and DELETE need an Mcp-Session-Id; 2026-07-28 requests are POSTed alone", http.StatusMethodNotAllowed)
		return nil
	}
	h.mu.Lock()
	s := h.sessions[id]
	h.mu.Unlock()
	if s == nil {
		http.Error(w, "no such session (it ended, or the proxy restarted): initialize again", http.StatusNotFound)
	}
	return s
}

func (h *Handler) post(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		http.Error(w, "POST a JSON-RPC message as application/json", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxMessage))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeRPCError(w, http.StatusRequestEntityTooLarge, "null", -32600, "the message is over the proxy's bound of 64 MiB")
			return
		}
		http.Error(w, "reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if !json.Valid(body) {
		writeRPCError(w, http.StatusBadRequest, "null", -32700, "Parse error: the body is not JSON")
		return
	}
	if trimmed := strings.TrimLeft(string(body[:min(len(body), 64)]), " \t\r\n"); strings.HasPrefix(trimmed, "[") {
		writeRPCError(w, http.StatusBadRequest, "null", -32600, "JSON-RPC batches are not taken over HTTP (removed in protocol version 2025-06-18): POST one message")
		return
	}
	env := jsonrpc.Parse(body)
	if id := r.Header.Get(sessionHeader); id != "" {
		s := h.session(w, r)
		if s != nil {
			s.post(w, r, body, nil)
		}
		return
	}
	modern := gjson.GetBytes(body, `params._meta.io\.modelcontextprotocol/protocolVersion`).Exists()
	if env.Method == "initialize" && !modern {
		h.initialize(w, r, body)
		return
	}
	h.free.post(w, r, body, env)
}

// initialize starts a legacy client's session.
func (h *Handler) initialize(w http.ResponseWriter, r *http.Request, body []byte) {
	h.mu.Lock()
	full := len(h.sessions) >= h.o.MaxSessions
	h.mu.Unlock()
	if full {
		writeRPCError(w, http.StatusServiceUnavailable, string(jsonrpc.Parse(body).ID), -32603, "too many sessions open; end one (DELETE) or wait for an idle one to close")
		return
	}
	core, end, err := h.o.NewSession()
	if err != nil {
		writeRPCError(w, http.StatusInternalServerError, string(jsonrpc.Parse(body).ID), -32603, "starting a session: "+err.Error())
		return
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	s := newSession(h.ctx, id, core, end, h.log.Named("session"))
	h.mu.Lock()
	h.sessions[id] = s
	h.mu.Unlock()
	s.post(w, r, body, func(hd http.Header) { hd.Set(sessionHeader, id) })
}

// refusedHost says why a request's Host or Origin is refused, or "": only
// loopback names are served, so that a web page whose name was made to
// resolve to 127.0.0.1 (DNS rebinding) cannot reach the proxy.
func refusedHost(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if !loopbackName(host) {
		return "Host " + r.Host + " is not a loopback name"
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || !loopbackName(u.Hostname()) {
			return "Origin " + origin + " is not this machine"
		}
	}
	return ""
}

func loopbackName(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// accepts says whether the request's Accept header takes mediaType.
func accepts(r *http.Request, mediaType string) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := mime.ParseMediaType(strings.TrimSpace(part))
		if mt == mediaType || mt == "*/*" {
			return true
		}
	}
	return false
}

// writeRPCError answers with a JSON-RPC error under id (raw).
func writeRPCError(w http.ResponseWriter, status int, id string, code int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(jsonrpc.AppendError(nil, []byte(id), jsonrpc.ErrorObject(code, message)))
}
