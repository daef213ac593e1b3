package device_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/auth-device/device"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk/sdktest"
)

// as is a device-flow authorization server that answers its first two
// polls with authorization_pending and slow_down, and rotates refresh
// tokens.
type as struct {
	srv             *httptest.Server
	verificationURI string
	mu              sync.Mutex
	polls           []time.Time
	spent           map[string]bool
}

func newAS(t *testing.T) *as {
	a := &as{spent: map[string]bool{}}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	a.verificationURI = a.srv.URL + "/activate"
	t.Cleanup(a.srv.Close)
	return a
}

func (a *as) reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (a *as) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f := r.PostForm
	if f.Get("resource") != "https://mcp.example/mcp" {
		a.reply(w, 400, map[string]string{"error": "invalid_target", "error_description": "resource missing"})
		return
	}
	switch {
	case r.URL.Path == "/device":
		a.reply(w, 200, map[string]any{"device_code": "dc-1", "user_code": "ABCD-EFGH", "verification_uri": a.verificationURI,
			"verification_uri_complete": a.verificationURI + "?code=ABCD-EFGH", "interval": 1, "expires_in": 60})
	case f.Get("grant_type") == "urn:ietf:params:oauth:grant-type:device_code":
		a.mu.Lock()
		a.polls = append(a.polls, time.Now())
		n := len(a.polls)
		a.mu.Unlock()
		switch n {
		case 1:
			a.reply(w, 400, map[string]string{"error": "authorization_pending"})
		case 2:
			a.reply(w, 400, map[string]string{"error": "slow_down"})
		default:
			a.reply(w, 200, map[string]any{"access_token": "at-1", "refresh_token": "rt-1", "token_type": "Bearer", "expires_in": 600})
		}
	case f.Get("grant_type") == "refresh_token":
		rt := f.Get("refresh_token")
		a.mu.Lock()
		used := a.spent[rt]
		a.spent[rt] = true
		a.mu.Unlock()
		if used || rt != "rt-1" {
			a.reply(w, 400, map[string]string{"error": "invalid_grant", "error_description": "refresh token already used"})
			return
		}
		a.reply(w, 200, map[string]any{"access_token": "at-2", "refresh_token": "rt-2", "token_type": "Bearer", "expires_in": 600, "scope": "read"})
	default:
		a.reply(w, 400, map[string]string{"error": "unsupported_grant_type"})
	}
}

func (a *as) grant() sdk.Grant {
	return sdk.Grant{
		Flow: device.Flow, Server: "docs",
		Endpoints: sdk.Endpoints{Issuer: a.srv.URL, TokenURL: a.srv.URL + "/token", DeviceAuthorizationURL: a.srv.URL + "/device"},
		Client:    sdk.Client{ClientID: "cli"},
		Scopes:    []string{"read"}, Resource: "https://mcp.example/mcp",
	}
}

func TestDeviceFlow(t *testing.T) {
	a := newAS(t)
	client, _ := sdktest.Auth(t, device.New("t"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	st, err := client.Begin(ctx, a.grant())
	if err != nil {
		t.Fatal(err)
	}
	// The user's instructions come at once, before any poll.
	if st.UserCode != "ABCD-EFGH" || st.VerificationURI != a.verificationURI || st.FlowID == "" || !strings.Contains(st.Message, "ABCD-EFGH") {
		t.Fatalf("started %+v", st)
	}
	if len(a.polls) != 0 {
		t.Fatal("Begin waited for the token endpoint")
	}
	tok, err := client.Await(ctx, st.FlowID)
	if err != nil || tok.AccessToken != "at-1" || tok.RefreshToken != "rt-1" || time.Until(tok.Expiry) < 9*time.Minute {
		t.Fatalf("await: %#v %v", tok, err)
	}
	a.mu.Lock()
	polls := append([]time.Time(nil), a.polls...)
	a.mu.Unlock()
	if len(polls) != 3 {
		t.Fatalf("%d polls, want 3", len(polls))
	}
	if d := polls[1].Sub(polls[0]); d < 900*time.Millisecond {
		t.Errorf("polled again after %v; the interval is 1s", d)
	}
	if d := polls[2].Sub(polls[1]); d < 5900*time.Millisecond {
		t.Errorf("polled again after %v following slow_down; the interval is then 6s", d)
	}
	if _, err := client.Await(ctx, st.FlowID); err == nil {
		t.Fatal("a finished flow can be awaited twice")
	}

	// Refresh sends the resource, and a spent refresh token is refused.
	tok, err = client.Refresh(ctx, a.grant(), "rt-1")
	if err != nil || tok.AccessToken != "at-2" || tok.RefreshToken != "rt-2" || tok.Scopes[0] != "read" {
		t.Fatalf("refresh: %#v %v", tok, err)
	}
	if _, err := client.Refresh(ctx, a.grant(), "rt-1"); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("refresh with a spent token: %v", err)
	}
}

func TestAbandonedFlowStopsPolling(t *testing.T) {
	a := newAS(t)
	client, _ := sdktest.Auth(t, device.New("t"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := client.Begin(ctx, a.grant())
	if err != nil {
		t.Fatal(err)
	}
	actx, acancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer acancel()
	if _, err := client.Await(actx, st.FlowID); err == nil {
		t.Fatal("an abandoned flow returned a token")
	}
	a.mu.Lock()
	n := len(a.polls)
	a.mu.Unlock()
	time.Sleep(2500 * time.Millisecond)
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.polls) != n {
		t.Fatalf("still polling after the host gave up: %d → %d polls", n, len(a.polls))
	}
}

func TestHostileVerificationURI(t *testing.T) {
	a := newAS(t)
	a.verificationURI = "javascript:alert(1)"
	client, _ := sdktest.Auth(t, device.New("t"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := client.Begin(ctx, a.grant()); err == nil || !strings.Contains(err.Error(), "verification_uri") {
		t.Fatalf("a javascript: verification URI: %v", err)
	}
	g := a.grant()
	g.Endpoints.DeviceAuthorizationURL = "http://as.example/device"
	if _, err := client.Begin(ctx, g); err == nil || !strings.Contains(err.Error(), "https") {
		t.Fatalf("plain http to a remote host: %v", err)
	}
}
