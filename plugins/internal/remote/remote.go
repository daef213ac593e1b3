// Package remote holds what the bundled HTTP transports share: the URL
// policy, the HTTP client, and the little they must know of JSON-RPC to
// route bytes they otherwise pass on verbatim.
package remote

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/jsonrpc"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/redact"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// Options are the settings the core passes in sdk.SessionSpec.Options.
type Options struct {
	// AllowHTTP permits plain http to a host that is not loopback; the
	// server entry must say so explicitly.
	AllowHTTP bool `json:"allow_http"`
}

// ParseOptions decodes spec options; nil or empty means the defaults.
func ParseOptions(raw []byte) (Options, error) {
	var o Options
	if len(bytes.TrimSpace(raw)) == 0 {
		return o, nil
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return o, fmt.Errorf("transport options: %w", err)
	}
	return o, nil
}

// CheckURL parses a server URL and applies the policy: https always, plain
// http only to a loopback address unless allowHTTP.
func CheckURL(raw string, allowHTTP bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url %q: %w", raw, err)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowHTTP && !IsLoopback(u.Hostname()) {
			return nil, fmt.Errorf("url %q uses plain http to a host that is not loopback; use https, or set \"allow_http\": true in the server entry", raw)
		}
	default:
		return nil, fmt.Errorf("url %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("url %q has no host", raw)
	}
	return u, nil
}

// IsLoopback reports whether host (a name or an address, without port)
// is this machine: localhost, 127.0.0.0/8 or ::1.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SameOrigin reports whether a and b have the same scheme, host and port.
func SameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

// NewClient returns the HTTP client a plugin process shares between its
// sessions. Certificates are always verified; proxies come from the
// environment. It has no overall timeout: event streams last as long as
// their session.
func NewClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.ResponseHeaderTimeout = 0
	t.TLSHandshakeTimeout = 15 * time.Second
	return &http.Client{Transport: t, CheckRedirect: sameOriginRedirects}
}

// sameOriginRedirects follows a few redirects within the server's origin
// and refuses the others: the configured headers (an API key) must not
// follow a redirect to another host, nor from https to http.
func sameOriginRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("stopped after 5 redirects")
	}
	if !SameOrigin(req.URL, via[0].URL) {
		return fmt.Errorf("refused a redirect from %s to another origin, %s://%s", via[0].URL.Host, req.URL.Scheme, req.URL.Host)
	}
	return nil
}

// Header builds the configured headers. Content-Type and Accept are the
// transport's to set.
func Header(m map[string]string) http.Header {
	h := make(http.Header, len(m)+4)
	for k, v := range m {
		h.Set(k, v)
	}
	return h
}

// Msg is what a transport needs to know of a JSON-RPC message.
type Msg struct {
	// Method is set for requests and notifications.
	Method string
	// ID is the raw id of a request or response, nil for a notification.
	ID []byte
}

// IsRequest reports whether the message is a request.
func (m Msg) IsRequest() bool { return m.Method != "" && m.ID != nil }

// IsResponse reports whether the message is a response.
func (m Msg) IsResponse() bool { return m.Method == "" && m.ID != nil }

// Classify reads the method and id of a message without decoding it.
func Classify(b []byte) Msg {
	r := gjson.GetManyBytes(b, "method", "id")
	m := Msg{Method: r[0].Str}
	if r[1].Exists() && r[1].Type != gjson.Null {
		m.ID = []byte(r[1].Raw)
	}
	return m
}

// ErrorReply is a JSON-RPC error response to request id, for a request the
// transport could not get answered.
func ErrorReply(id []byte, message string) []byte {
	b, _ := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}{JSONRPC: "2.0", ID: id, Error: struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{-32603, message}})
	return b
}

// Do sends req with c, and keeps secrets out of the error: net/http's
// error names the whole URL, and a server's URL may carry a token in its
// query or userinfo (an api key written into the url), which would
// otherwise reach the proxy's log, mirror_status and the model.
func Do(c *http.Client, req *http.Request) (*http.Response, error) {
	resp, err := c.Do(req)
	if ue, ok := errors.AsType[*url.Error](err); ok {
		redacted := *ue
		redacted.URL = redact.URL(ue.URL)
		return resp, &redacted
	}
	return resp, err
}

// IsJSONRPC reports whether body holds a JSON-RPC message or batch, as
// opposed to an HTML error page or plain text.
func IsJSONRPC(body []byte) bool {
	body = bytes.TrimSpace(body)
	if jsonrpc.Validate(body) != nil {
		return false
	}
	r := gjson.ParseBytes(body)
	if r.IsArray() {
		a := r.Array()
		return len(a) > 0 && a[0].Get("jsonrpc").Str == "2.0"
	}
	return r.Get("jsonrpc").Str == "2.0"
}

// AuthChallenge reports whether resp asks for credentials: a 401, or a 403
// whose challenge says insufficient_scope (RFC 6750).
func AuthChallenge(resp *http.Response) (sdk.AuthRequired, bool) {
	challenge := strings.Join(resp.Header.Values("WWW-Authenticate"), ", ")
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
	case resp.StatusCode == http.StatusForbidden && strings.Contains(challenge, "insufficient_scope"):
	default:
		return sdk.AuthRequired{}, false
	}
	return sdk.AuthRequired{WWWAuthenticate: challenge, Status: resp.StatusCode}, true
}

// maxErrorBody bounds what is read of a body only shown in an error.
const maxErrorBody = 64 << 10

// ReadErrorBody reads the start of a body that will only be shown in an
// error or checked for a JSON-RPC error, and closes it.
func ReadErrorBody(body io.ReadCloser) []byte {
	defer func() { _ = body.Close() }()
	b, _ := io.ReadAll(io.LimitReader(body, maxErrorBody))
	return b
}

// Describe says in words what an HTTP error response held.
func Describe(status int, body []byte) string {
	s := "HTTP " + strconv.Itoa(status)
	if t := http.StatusText(status); t != "" {
		s += " " + t
	}
	if text := Excerpt(body); text != "" {
		s += ": " + text
	}
	return s
}

// Excerpt is the start of a body, on one line, for an error message.
func Excerpt(body []byte) string {
	text := strings.TrimSpace(string(body))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	return strings.Join(strings.Fields(text), " ")
}

// Drain reads what is left of a body so its connection can be reused, up
// to a bound, and closes it.
func Drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxErrorBody))
	_ = body.Close()
}

// Attribute gives an error answer whose id is null the id of the request
// it answers. A server that rejects a POST before reading its request (a
// "Bad Request" for a missing session, say) often answers with id null;
// since the POST carried exactly one request, the answer is that
// request's, and without its id no one would ever get it.
func Attribute(data []byte, msg Msg) []byte {
	if !msg.IsRequest() {
		return data
	}
	r := gjson.GetManyBytes(data, "id", "error")
	if !r[1].Exists() || (r[0].Exists() && r[0].Type != gjson.Null) {
		return data
	}
	out, err := sjson.SetRawBytes(bytes.TrimSpace(data), "id", msg.ID)
	if err != nil {
		return data
	}
	return out
}

// JSONLines reads body as newline-separated JSON objects, and says
// whether it is that.
func JSONLines(body []byte) ([][]byte, bool) {
	var out [][]byte
	for line := range bytes.SplitSeq(body, []byte{'\n'}) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if line[0] != '{' || !json.Valid(line) {
			return nil, false
		}
		out = append(out, line)
	}
	return out, len(out) > 0
}

// Answers says whether msgs hold the answer to msg (a request).
func Answers(msgs [][]byte, msg Msg) bool {
	for _, m := range msgs {
		r := gjson.GetManyBytes(m, "id", "method")
		if !r[1].Exists() && r[0].Raw == string(msg.ID) {
			return true
		}
	}
	return false
}
