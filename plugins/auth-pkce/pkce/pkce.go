// Package pkce runs the OAuth authorization code grant with PKCE (RFC 7636,
// S256) for a native client (RFC 8252): Begin starts a callback listener on
// a loopback address, builds the authorization URL and opens a browser on
// it, best-effort; Await waits for the one callback it accepts, checks its
// state and issuer (RFC 9207), and exchanges the code with
// golang.org/x/oauth2.
package pkce

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/dpop"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/internal/oauthflow"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/internal/remote"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// Flow is the flow name this plugin provides.
const Flow = "pkce"

// defaultFlowTimeout bounds a login whose grant names no timeout.
const defaultFlowTimeout = 5 * time.Minute

// Options are the flow settings the host passes through.
type Options struct {
	// OpenBrowser, when false, only returns the URL. Default true.
	OpenBrowser *bool `json:"open_browser,omitempty"`
	// RequireIss refuses a callback without the iss parameter, for servers
	// whose metadata says they send it (RFC 9207).
	RequireIss bool `json:"require_iss,omitempty"`
}

// Auth runs PKCE logins; several may be pending at once.
type Auth struct {
	version string
	client  *http.Client
	// open starts a browser on a URL; replaced in tests.
	open func(string) error

	mu    sync.Mutex
	flows map[string]*flow
}

type flow struct {
	done   chan struct{}
	token  sdk.Token
	err    error
	once   sync.Once
	server *http.Server
}

// finish ends the flow once, closing its listener.
func (f *flow) finish(t sdk.Token, err error) {
	f.once.Do(func() {
		f.token, f.err = t, err
		close(f.done)
		// Shutdown, not Close: the callback's page is still being written.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = f.server.Shutdown(ctx)
		}()
	})
}

// New returns the plugin; version is reported by Info.
func New(version string) *Auth {
	return &Auth{version: version, client: oauthflow.NewClient(), open: openBrowser, flows: map[string]*flow{}}
}

// Info implements sdk.Auth.
func (a *Auth) Info() sdk.Info {
	return sdk.Info{
		Names:       []string{Flow, "authorization_code"},
		Version:     a.version,
		Description: "OAuth authorization code with PKCE (a browser login back to this machine)",
	}
}

// Begin implements sdk.Auth.
func (a *Auth) Begin(ctx context.Context, g sdk.Grant) (sdk.Started, error) {
	var opts Options
	if len(g.Options) > 0 {
		if err := json.Unmarshal(g.Options, &opts); err != nil {
			return sdk.Started{}, fmt.Errorf("pkce options: %w", err)
		}
	}
	if _, err := oauthflow.Endpoint("authorization endpoint", g.Endpoints.AuthorizationURL); err != nil {
		return sdk.Started{}, err
	}
	if _, err := oauthflow.Endpoint("token endpoint", g.Endpoints.TokenURL); err != nil {
		return sdk.Started{}, err
	}
	if g.Client.ClientID == "" {
		return sdk.Started{}, errors.New("the PKCE flow needs a client_id")
	}
	tokenClient, err := dpop.Client(a.client, g.DPoPKey)
	if err != nil {
		return sdk.Started{}, err
	}
	ln, redirect, err := listen(g.Client.RedirectURI)
	if err != nil {
		return sdk.Started{}, err
	}
	cfg := oauthflow.Config(g)
	cfg.RedirectURL = redirect.String()
	verifier := oauth2.GenerateVerifier()
	state := randomString()
	authOpts := append(oauthflow.Params(g.Resource, g.ExtraAuthParams), oauth2.S256ChallengeOption(verifier))
	authURL := cfg.AuthCodeURL(state, authOpts...)

	timeout := g.Timeout
	if timeout <= 0 {
		timeout = defaultFlowTimeout
	}
	f := &flow{done: make(chan struct{})}
	exchange := func(code string) {
		xctx, cancel := context.WithTimeout(context.Background(), oauthflow.DefaultTimeout)
		defer cancel()
		opts := append(oauthflow.Params(g.Resource, g.ExtraTokenParams), oauth2.VerifierOption(verifier))
		t, err := cfg.Exchange(oauthflow.Context(xctx, tokenClient), code, opts...)
		if err != nil {
			f.finish(sdk.Token{}, fmt.Errorf("code exchange at %s: %w", g.Endpoints.TokenURL, oauthflow.Describe(err)))
			return
		}
		f.finish(oauthflow.FromOAuth2(t, g.Scopes), nil)
	}
	f.server = &http.Server{
		Handler:           callback(redirect.Path, state, g.Endpoints.Issuer, opts.RequireIss, f, exchange),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = f.server.Serve(ln) }()
	time.AfterFunc(timeout, func() {
		f.finish(sdk.Token{}, fmt.Errorf("no login within %s; start again", timeout))
	})

	id := randomString()
	a.mu.Lock()
	a.flows[id] = f
	a.mu.Unlock()

	msg := "open this URL in a browser to log in: " + authURL
	if opts.OpenBrowser == nil || *opts.OpenBrowser {
		if err := a.open(authURL); err == nil {
			msg = "a browser was opened to log in; if it did not appear, open: " + authURL
		}
	}
	return sdk.Started{FlowID: id, AuthorizationURL: authURL, ExpiresIn: timeout, Message: msg}, nil
}

// Await implements sdk.Auth.
func (a *Auth) Await(ctx context.Context, flowID string) (sdk.Token, error) {
	a.mu.Lock()
	f := a.flows[flowID]
	delete(a.flows, flowID)
	a.mu.Unlock()
	if f == nil {
		return sdk.Token{}, fmt.Errorf("no pending login %q (it ended, or timed out)", flowID)
	}
	select {
	case <-f.done:
		return f.token, f.err
	case <-ctx.Done():
		f.finish(sdk.Token{}, ctx.Err())
		return sdk.Token{}, ctx.Err()
	}
}

// Refresh implements sdk.Auth.
func (a *Auth) Refresh(ctx context.Context, g sdk.Grant, refreshToken string) (sdk.Token, error) {
	return oauthflow.Refresh(ctx, a.client, g, refreshToken)
}

// listen opens the callback listener: on the configured redirect URI,
// which must be plain http on a loopback address, else on 127.0.0.1 at a
// port the system picks (RFC 8252 §7.3).
func listen(configured string) (net.Listener, *url.URL, error) {
	if configured == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, fmt.Errorf("callback listener: %w", err)
		}
		return ln, &url.URL{Scheme: "http", Host: ln.Addr().String(), Path: "/callback"}, nil
	}
	u, err := url.Parse(configured)
	if err != nil {
		return nil, nil, fmt.Errorf("redirect_uri %q: %w", configured, err)
	}
	host := u.Hostname()
	if u.Scheme != "http" || !remote.IsLoopback(host) {
		return nil, nil, fmt.Errorf("redirect_uri %s must be http on a loopback address (127.0.0.1, [::1] or localhost): the login comes back to this machine", configured)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, nil, fmt.Errorf("callback listener on %s: %w", configured, err)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return ln, u, nil
}

// callback accepts one redirect: the first request on path ends the flow,
// well or not, and the listener closes.
func callback(path, state, issuer string, requireIss bool, f *flow, exchange func(code string)) http.Handler {
	var once sync.Once
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		accepted := false
		once.Do(func() { accepted = true })
		if !accepted {
			page(w, http.StatusGone, "This login has already been handled.")
			return
		}
		q := r.URL.Query()
		fail := func(status int, err error) {
			page(w, status, "Login failed: "+err.Error())
			f.finish(sdk.Token{}, err)
		}
		switch iss := q.Get("iss"); {
		case q.Get("state") != state:
			fail(http.StatusBadRequest, errors.New("the callback's state does not match the login's; refused (a forged or stale redirect)"))
			return
		case iss != "" && iss != issuer:
			fail(http.StatusBadRequest, fmt.Errorf("the callback's iss %q is not the authorization server %q; refused (RFC 9207)", iss, issuer))
			return
		case iss == "" && requireIss:
			fail(http.StatusBadRequest, errors.New("the callback has no iss, which this authorization server promises; refused (RFC 9207)"))
			return
		case q.Get("error") != "":
			msg := q.Get("error")
			if d := q.Get("error_description"); d != "" {
				msg += ": " + d
			}
			fail(http.StatusOK, errors.New("the authorization server said "+msg))
			return
		case q.Get("code") == "":
			fail(http.StatusBadRequest, errors.New("the callback has no code"))
			return
		}
		exchange(q.Get("code"))
		<-f.done
		if f.err != nil {
			page(w, http.StatusOK, "Login failed: "+f.err.Error())
			return
		}
		page(w, http.StatusOK, "Logged in. You can close this tab and go back to your agent.")
	})
}

func page(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "<!doctype html><title>ica-mcp-proxy</title><p>%s</p>\n", html.EscapeString(text))
}

func randomString() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
