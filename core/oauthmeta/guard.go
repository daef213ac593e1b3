package oauthmeta

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// addrClass sorts addresses by where they reach.
type addrClass int

const (
	public addrClass = iota
	private
	loopback
	linkLocal
	unspecified
)

func (c addrClass) String() string {
	return [...]string{"public", "private", "loopback", "link-local", "unspecified"}[c]
}

func classify(ip net.IP) addrClass {
	if v4 := ip.To4(); v4 != nil {
		ip = v4 // ::ffff:10.0.0.1 is 10.0.0.1
	}
	switch {
	case ip.IsUnspecified():
		return unspecified
	case ip.IsLoopback():
		return loopback
	case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast():
		return linkLocal
	case ip.IsPrivate():
		return private
	}
	return public
}

// ErrRefusedAddress is returned for a request to an address the guard
// does not allow.
var ErrRefusedAddress = errors.New("refused address")

// guardedClient is an HTTP client for metadata and registration requests:
// it connects only to public addresses, plus the class of address the MCP
// server itself is at (so a server on loopback or a private network can
// have its authorization server beside it), checks the address it actually
// connects to (so no DNS answer or numeric form slips through), and
// follows no redirect to another origin.
func guardedClient(allowed addrClass, timeout time.Duration) *http.Client {
	dialer := &net.Dialer{
		Timeout: 10 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip := net.ParseIP(host)
			if ip == nil {
				return fmt.Errorf("%w: %s", ErrRefusedAddress, address)
			}
			if c := classify(ip); c != public && c != allowed {
				return fmt.Errorf("%w: %s is a %s address, and the MCP server is not on one", ErrRefusedAddress, host, c)
			}
			return nil
		},
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = dialer.DialContext
	t.Proxy = nil // the guard must see the real destination
	return &http.Client{
		Transport: t,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("stopped after 5 redirects")
			}
			if !sameOrigin(req.URL, via[0].URL) {
				return fmt.Errorf("refused a redirect from %s to another origin (%s)", via[0].URL.Host, req.URL.Host)
			}
			return nil
		},
	}
}

// hostClass is the class of address host is at: a literal address, or
// what the name resolves to (the most restricted class wins).
func hostClass(ctx context.Context, host string) addrClass {
	if c, literal := literalClass(host); literal {
		return c
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil || len(addrs) == 0 {
		return public
	}
	c := public
	for _, a := range addrs {
		if k := classify(a.IP); k > c {
			c = k
		}
	}
	return c
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}

// CheckEndpoint applies the endpoint rule: https, or plain http to a
// loopback host.
func CheckEndpoint(what, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%s %q is not a URL", what, raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if c, _ := literalClass(u.Hostname()); c != loopback {
			return nil, fmt.Errorf("%s %s uses plain http to a host that is not this machine; OAuth endpoints must use https", what, u.Redacted())
		}
	default:
		return nil, fmt.Errorf("%s %q: the scheme must be https", what, raw)
	}
	return u, nil
}

// literalClass is the class of a host written as an address, or as
// localhost; literal is false for any other name.
func literalClass(host string) (c addrClass, literal bool) {
	if strings.EqualFold(host, "localhost") {
		return loopback, true
	}
	if ip := net.ParseIP(host); ip != nil {
		return classify(ip), true
	}
	return public, false
}
