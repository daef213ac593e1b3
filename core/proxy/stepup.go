package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/auth"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/oauthmeta"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
)

// stepUpTimeout bounds starting a login for more scope (discovery and the
// flow's first step); the login itself then runs in the background.
const stepUpTimeout = 30 * time.Second

// StepUpError says a server refused a request for want of scope, and what
// the proxy did about it: started a login asking for more (Started), or
// nothing, and why (Err).
type StepUpError struct {
	Server  string
	Scope   string
	Started auth.Started
	Err     error
}

func (e *StepUpError) Error() string {
	need := fmt.Sprintf("server %q needs more access for this request (scope %q)", e.Server, e.Scope)
	st := e.Started
	switch {
	case e.Err != nil:
		return fmt.Sprintf("%s, and no new login was started: %v", need, e.Err)
	case st.Done:
		return need + "; the proxy logged in again with more scope, but the server still refused the request"
	case st.AuthorizationURL != "":
		return fmt.Sprintf("%s; a login asking for it was started: open %s to grant it, then repeat the request (proxy.auth_status {\"server\": %q} says when the login is done)", need, st.AuthorizationURL, e.Server)
	case st.VerificationURI != "":
		return fmt.Sprintf("%s; a login asking for it was started: enter the code %s at %s, then repeat the request (proxy.auth_status {\"server\": %q} says when the login is done)", need, st.UserCode, st.VerificationURI, e.Server)
	default:
		return fmt.Sprintf("%s; a login asking for it was started: %s", need, st.Message)
	}
}

// insufficientScope is the refusal in err when a server turned a request
// down for want of scope (403 with error="insufficient_scope").
func insufficientScope(err error) (*upstream.AuthRequiredError, bool) {
	ar, ok := errors.AsType[*upstream.AuthRequiredError](err)
	if !ok || ar.Status != 403 || !strings.EqualFold(oauthmeta.ParseChallenge(ar.WWWAuthenticate).Error, "insufficient_scope") {
		return nil, false
	}
	return ar, true
}

// stepUp answers a refusal for want of scope of the request method (with
// params) to server: a login asking for more scope is started, bounded
// (auth.Manager.StepUp). A login that needed no user (client credentials)
// is done at once, and the request is sent again, once, with the new
// token; otherwise the error says what the user must do.
func (p *Proxy) stepUp(server, method string, params json.RawMessage, ar *upstream.AuthRequiredError) (upstream.Reply, error) {
	srv, err := p.AuthServer(server)
	if err != nil || p.opts.Auth == nil {
		return upstream.Reply{}, ar
	}
	what := method
	if name := gjson.GetBytes(params, "name"); method == "tools/call" && name.Type == gjson.String {
		what = fmt.Sprintf("the call of tool %q", name.Str)
	}
	ctx, cancel := context.WithTimeout(context.Background(), stepUpTimeout)
	defer cancel()
	scope := oauthmeta.ParseChallenge(ar.WWWAuthenticate).Scope
	st, err := p.opts.Auth.StepUp(ctx, srv, ar.WWWAuthenticate, what)
	if err != nil {
		return upstream.Reply{}, &StepUpError{Server: server, Scope: scope, Err: err}
	}
	if !st.Done {
		return upstream.Reply{}, &StepUpError{Server: server, Scope: scope, Started: st}
	}
	u, err := p.Upstream(server)
	if err != nil {
		return upstream.Reply{}, err
	}
	r, err := u.Request(ctx, method, params)
	if _, again := insufficientScope(err); again {
		return upstream.Reply{}, &StepUpError{Server: server, Scope: scope, Started: st}
	}
	return r, err
}
