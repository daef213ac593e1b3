package oauthmeta

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// site is an MCP server and its authorization server on loopback, each
// metadata document replaceable by a test.
type site struct {
	srv       *httptest.Server
	docs      map[string]any    // path → JSON body
	redirects map[string]string // path → where it redirects
}

func newSite(t *testing.T) *site {
	s := &site{docs: map[string]any{}, redirects: map[string]string{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if to, ok := s.redirects[r.URL.Path]; ok {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		doc, ok := s.docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(s.srv.Close)
	base := s.srv.URL
	s.docs["/.well-known/oauth-protected-resource/mcp"] = map[string]any{
		"resource": base + "/mcp", "authorization_servers": []string{base + "/as"}, "scopes_supported": []string{"read"},
	}
	s.docs["/.well-known/oauth-authorization-server/as"] = map[string]any{
		"issuer": base + "/as", "authorization_endpoint": base + "/as/authorize", "token_endpoint": base + "/as/token",
		"registration_endpoint": base + "/as/register", "code_challenge_methods_supported": []string{"S256"},
	}
	return s
}

func discover(t *testing.T, server, challenge string) (Found, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return Discoverer{}.Discover(ctx, server, challenge)
}

func TestDiscoverByWellKnown(t *testing.T) {
	s := newSite(t)
	f, err := discover(t, s.srv.URL+"/mcp", "")
	if err != nil {
		t.Fatal(err)
	}
	if f.Resource != s.srv.URL+"/mcp" || f.Server.TokenEndpoint != s.srv.URL+"/as/token" || !f.Server.SupportsS256() || f.Scopes[0] != "read" {
		t.Fatalf("found %+v", f)
	}
}

func TestDiscoverByChallenge(t *testing.T) {
	s := newSite(t)
	s.docs["/prm"] = s.docs["/.well-known/oauth-protected-resource/mcp"]
	delete(s.docs, "/.well-known/oauth-protected-resource/mcp")
	// OpenID discovery when RFC 8414 metadata is absent.
	s.docs["/.well-known/openid-configuration/as"] = s.docs["/.well-known/oauth-authorization-server/as"]
	delete(s.docs, "/.well-known/oauth-authorization-server/as")
	f, err := discover(t, s.srv.URL+"/mcp", `Bearer resource_metadata="`+s.srv.URL+`/prm", scope="read write"`)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.Scopes, " ") != "read write" || f.Server.Issuer != s.srv.URL+"/as" {
		t.Fatalf("found %+v", f)
	}
}

func TestHostileMetadata(t *testing.T) {
	cases := map[string]struct {
		tweak func(s *site)
		want  string
	}{
		"issuer mismatch": {func(s *site) {
			s.docs["/.well-known/oauth-authorization-server/as"].(map[string]any)["issuer"] = "https://evil.example/as"
		}, "names issuer"},
		"resource for another server": {func(s *site) {
			s.docs["/.well-known/oauth-protected-resource/mcp"].(map[string]any)["resource"] = "https://other.example/mcp"
		}, "not for"},
		"http token endpoint on a remote host": {func(s *site) {
			s.docs["/.well-known/oauth-authorization-server/as"].(map[string]any)["token_endpoint"] = "http://as.example/token"
		}, "plain http"},
		"authorization server on a private address": {func(s *site) {
			s.docs["/.well-known/oauth-protected-resource/mcp"].(map[string]any)["authorization_servers"] = []string{"https://10.0.0.1/as"}
		}, "private address"},
		"cloud metadata address": {func(s *site) {
			s.docs["/.well-known/oauth-protected-resource/mcp"].(map[string]any)["authorization_servers"] = []string{"https://169.254.169.254/latest"}
		}, "link-local address"},
		"mapped private address": {func(s *site) {
			s.docs["/.well-known/oauth-protected-resource/mcp"].(map[string]any)["authorization_servers"] = []string{"https://[::ffff:10.0.0.1]/as"}
		}, "private address"},
		"decimal form of a private address": {func(s *site) {
			s.docs["/.well-known/oauth-protected-resource/mcp"].(map[string]any)["authorization_servers"] = []string{"https://167772161/as"}
		}, "167772161"},
		"metadata redirected to the cloud metadata address": {func(s *site) {
			s.redirects["/.well-known/oauth-authorization-server/as"] = "http://169.254.169.254/latest/meta-data/"
		}, "redirect"},
		"metadata redirected to a private address on the same scheme": {func(s *site) {
			s.redirects["/.well-known/oauth-protected-resource/mcp"] = "http://10.0.0.1/.well-known/oauth-protected-resource"
		}, "redirect"},
		"no metadata at all": {func(s *site) {
			delete(s.docs, "/.well-known/oauth-authorization-server/as")
		}, "publishes no metadata"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := newSite(t)
			c.tweak(s)
			_, err := discover(t, s.srv.URL+"/mcp", "")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
		})
	}
	// A javascript: resource_metadata is refused before any request.
	if _, err := discover(t, "https://mcp.example/mcp", `Bearer resource_metadata="javascript:alert(1)"`); err == nil {
		t.Fatal("a javascript: resource_metadata was followed")
	}
}

func TestNoS256(t *testing.T) {
	s := newSite(t)
	s.docs["/.well-known/oauth-authorization-server/as"].(map[string]any)["code_challenge_methods_supported"] = []string{"plain"}
	f, err := discover(t, s.srv.URL+"/mcp", "")
	if err != nil {
		t.Fatal(err)
	}
	if f.Server.SupportsS256() {
		t.Fatal("plain-only PKCE reported as S256")
	}
}

func TestGuardSeesTheRealAddress(t *testing.T) {
	c := guardedClient(public, 5*time.Second)
	get := func(u string) error {
		resp, err := c.Get(u)
		if err == nil {
			_ = resp.Body.Close()
		}
		return err
	}
	for _, u := range []string{"https://127.0.0.1:1/", "https://[::1]:1/", "https://169.254.169.254/", "https://[::ffff:169.254.169.254]/"} {
		err := get(u)
		if !errors.Is(err, ErrRefusedAddress) {
			t.Errorf("%s: %v, want a refusal", u, err)
		}
	}
	// The decimal form of 127.0.0.1 is not an address to Go's resolver:
	// it fails as a name, and nothing is dialled.
	var dnsErr *net.DNSError
	if err := get("https://2130706433:1/"); !errors.Is(err, ErrRefusedAddress) && !errors.As(err, &dnsErr) {
		t.Errorf("decimal address: %v", err)
	}
}

// Resource metadata at the origin's well-known location publishes the
// origin as its resource: that identifier, exactly as written (no "/"
// added), is the resource indicator; the authorization server's issuer
// has a path, so its metadata is found by inserting the well-known part.
func TestDiscoverRootMetadataResourceAsPublished(t *testing.T) {
	s := newSite(t)
	base := s.srv.URL
	delete(s.docs, "/.well-known/oauth-protected-resource/mcp")
	s.docs["/.well-known/oauth-protected-resource"] = map[string]any{"resource": base, "authorization_servers": []string{base + "/as"}}
	f, err := discover(t, base+"/mcp", "")
	if err != nil {
		t.Fatal(err)
	}
	if f.Resource != base || f.Server.Issuer != base+"/as" {
		t.Fatalf("resource %q issuer %q, want %q and %q", f.Resource, f.Server.Issuer, base, base+"/as")
	}
}
