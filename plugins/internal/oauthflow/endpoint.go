// Package oauthflow is what the bundled auth plugins share: the endpoint
// rules they apply before sending anything (whatever the core checked
// already: a plugin may be run by another host), the HTTP client they use,
// the conversion of x/oauth2's results, and the refresh grant.
package oauthflow

import (
	"fmt"
	"net/url"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/internal/remote"
)

// Endpoint checks an OAuth endpoint URL: https, or plain http only to a
// loopback address.
func Endpoint(what, raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("no %s: the authorization server's metadata or the server's oauth settings must give one", what)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", what, raw, err)
	}
	switch {
	case u.Host == "":
		return nil, fmt.Errorf("%s %q has no host", what, raw)
	case u.Scheme == "https":
	case u.Scheme == "http" && remote.IsLoopback(u.Hostname()):
	case u.Scheme == "http":
		return nil, fmt.Errorf("%s %s uses plain http to a host that is not this machine; OAuth endpoints must use https", what, u.Redacted())
	default:
		return nil, fmt.Errorf("%s %q: the scheme must be https", what, raw)
	}
	return u, nil
}
