// Package sse is MCP's HTTP+SSE transport of protocol 2024-11-05: the
// client holds a GET event stream open, the server names in its first
// "endpoint" event where to POST, and every answer comes on the stream.
// Servers that predate streamable HTTP still speak only this.
package sse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/hashicorp/go-hclog"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/dpop"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/redact"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/internal/remote"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/internal/sse"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// Transport opens HTTP+SSE sessions; they share one HTTP client.
type Transport struct {
	version string
	client  *http.Client
}

// New returns the transport; version is reported by Info.
func New(version string) *Transport {
	return &Transport{version: version, client: remote.NewClient()}
}

// Info implements sdk.Transport.
func (t *Transport) Info() sdk.Info {
	return sdk.Info{
		Names:       []string{"sse"},
		Version:     t.version,
		Description: "remote MCP servers over the HTTP+SSE transport of 2024-11-05",
	}
}

// Open implements sdk.Transport: it opens the event stream and returns once
// the server has named its message endpoint.
func (t *Transport) Open(ctx context.Context, spec sdk.SessionSpec, peer sdk.Peer) (sdk.Session, error) {
	u, header, err := remote.Target(spec)
	if err != nil {
		return nil, err
	}
	// The stream outlives ctx, which bounds only the opening.
	sctx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(ctx, cancel)
	client, err := dpop.Client(t.client, spec.DPoPKey)
	if err != nil {
		cancel()
		return nil, err
	}
	s, err := t.connect(sctx, client, u, header, peer)
	if !stop() || err != nil {
		cancel()
		if err == nil {
			_ = s.body.Close()
			err = ctx.Err()
		}
		return nil, err
	}
	s.life = remote.NewLife(sctx, cancel, peer)
	s.life.Go(s.read)
	return s, nil
}

func (t *Transport) connect(ctx context.Context, client *http.Client, u *url.URL, header http.Header, peer sdk.Peer) (*session, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	req.Header = header.Clone()
	req.Header.Set("Accept", "text/event-stream")
	resp, err := remote.Do(client, req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", redact.URL(u.String()), err)
	}
	if ev, ok := remote.AuthChallenge(resp); ok {
		remote.Drain(resp.Body)
		return nil, &sdk.EventError{Event: ev, Err: errors.New("the server requires authorization")}
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusOK || mt != "text/event-stream" {
		data := remote.ReadErrorBody(resp.Body)
		what := remote.Describe(resp.StatusCode, data)
		if resp.StatusCode == http.StatusOK {
			what = fmt.Sprintf("HTTP 200 with Content-Type %q instead of an event stream", mt)
		}
		if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusBadRequest ||
			resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			return nil, &sdk.EventError{Event: sdk.Unsupported{Status: resp.StatusCode, Detail: what},
				Err: errors.New("the server does not speak the HTTP+SSE transport")}
		}
		return nil, fmt.Errorf("GET %s: %s", redact.URL(u.String()), what)
	}
	events := sse.NewReader(resp.Body, sdk.MaxMessageBytes)
	for {
		ev, err := events.Next()
		if err != nil {
			_ = resp.Body.Close()
			if errors.Is(err, io.EOF) {
				err = errors.New("the stream ended")
			}
			return nil, fmt.Errorf("waiting for the server's endpoint event: %w", err)
		}
		if ev.Type != "endpoint" {
			peer.Logger().Warn("event before the endpoint event ignored", "type", ev.Type)
			continue
		}
		ep, err := u.Parse(string(bytes.TrimSpace(ev.Data)))
		if err != nil {
			_ = resp.Body.Close()
			return nil, fmt.Errorf("the server's endpoint %q: %w", ev.Data, err)
		}
		if !remote.SameOrigin(ep, u) {
			// Otherwise a server could make the proxy send the user's
			// messages and headers to a third party.
			_ = resp.Body.Close()
			return nil, fmt.Errorf("the server's endpoint %s is not on its origin %s://%s; refused", ep.Redacted(), u.Scheme, u.Host)
		}
		return &session{
			client: client, endpoint: ep, header: header, log: peer.Logger(),
			body: resp.Body, events: events,
		}, nil
	}
}

type session struct {
	client   *http.Client
	endpoint *url.URL
	header   http.Header
	log      hclog.Logger
	life     *remote.Life // the stream reader and the POSTs

	body   io.ReadCloser
	events *sse.Reader
}

// ReadyDetail names the endpoint without its query, which may hold a key.
func (s *session) ReadyDetail() string {
	return s.endpoint.Scheme + "://" + s.endpoint.Host + s.endpoint.Path
}

// read delivers the stream's messages until it ends, which ends the
// session: this transport cannot resume.
func (s *session) read() {
	defer func() { _ = s.body.Close() }()
	for {
		ev, err := s.events.Next()
		if err != nil {
			reason := "the server closed the event stream"
			if s.life.Ctx.Err() != nil {
				reason = "closed by host"
			} else if !errors.Is(err, io.EOF) {
				reason = "the event stream broke: " + err.Error()
			}
			s.life.End(nil, reason)
			return
		}
		if ev.Type == "message" && len(ev.Data) > 0 {
			s.life.Deliver(ev.Data)
		}
	}
}

// Send implements sdk.Session: each message is one POST to the endpoint;
// the answers come on the stream.
func (s *session) Send(_ context.Context, msgs ...[]byte) error {
	for _, m := range msgs {
		body := bytes.Clone(m)
		if !s.life.Go(func() { s.post(body) }) {
			return remote.ErrEnded
		}
	}
	return nil
}

func (s *session) post(body []byte) {
	msg := remote.Classify(body)
	req, _ := http.NewRequestWithContext(s.life.Ctx, http.MethodPost, s.endpoint.String(), bytes.NewReader(body))
	req.Header = s.header.Clone()
	req.Header.Set("Content-Type", "application/json")
	resp, err := remote.Do(s.client, req) //nolint:bodyclose // every branch below drains and closes it (remote.Drain)
	if err != nil {
		if s.life.Ctx.Err() == nil {
			s.life.Fail(msg, "POST "+s.ReadyDetail()+": "+err.Error())
		}
		return
	}
	if ev, ok := remote.AuthChallenge(resp); ok {
		remote.Drain(resp.Body)
		s.life.End(ev, "the server requires authorization")
		return
	}
	if resp.StatusCode == http.StatusNotFound {
		remote.Drain(resp.Body)
		s.life.End(sdk.SessionExpired{Detail: "the server answered 404 for its message endpoint"}, "session expired")
		return
	}
	if resp.StatusCode/100 != 2 {
		s.life.Fail(msg, remote.Describe(resp.StatusCode, remote.ReadErrorBody(resp.Body)))
		return
	}
	remote.Drain(resp.Body)
}

// Close implements sdk.Session: closing the stream ends the session.
func (s *session) Close(ctx context.Context) error {
	s.life.End(nil, "closed by host")
	s.life.Wait(ctx)
	return nil
}
