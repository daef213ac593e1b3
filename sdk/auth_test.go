package sdk_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk/sdktest"
)

// recordingAuth is an Auth that answers from fixed values and records what
// the wire delivered to it: this tests the sdk's conversions and the
// cancellation of Await, not a login flow.
type recordingAuth struct {
	grant     chan sdk.Grant
	abandoned chan error
}

func (a *recordingAuth) Info() sdk.Info {
	return sdk.Info{Names: []string{"device_code"}, Version: "t", Description: "test flow"}
}

func (a *recordingAuth) Begin(_ context.Context, g sdk.Grant) (sdk.Started, error) {
	a.grant <- g
	if g.Flow == "client_credentials" {
		return sdk.Started{Token: &sdk.Token{AccessToken: "at", TokenType: "Bearer"}}, nil
	}
	return sdk.Started{FlowID: "f1", VerificationURI: "https://as.example/device", UserCode: "ABCD-EFGH", ExpiresIn: 10 * time.Minute, Message: "enter the code"}, nil
}

func (a *recordingAuth) Await(ctx context.Context, flowID string) (sdk.Token, error) {
	if flowID == "unknown" {
		return sdk.Token{}, errors.New("no flow unknown")
	}
	<-ctx.Done()
	a.abandoned <- ctx.Err()
	return sdk.Token{}, ctx.Err()
}

func (a *recordingAuth) Refresh(_ context.Context, g sdk.Grant, rt string) (sdk.Token, error) {
	if rt != "rt-1" {
		return sdk.Token{}, errors.New("invalid_grant: refresh token already used")
	}
	return sdk.Token{AccessToken: "at-2", RefreshToken: "rt-2", TokenType: "Bearer", Expiry: time.Unix(2000000000, 0), Scopes: []string{"read"}}, nil
}

func TestAuthOverTheWire(t *testing.T) {
	impl := &recordingAuth{grant: make(chan sdk.Grant, 2), abandoned: make(chan error, 1)}
	client, info := sdktest.Auth(t, impl)
	if info.Kind != sdk.KindAuth || info.APIVersion != sdk.APIVersion || info.Names[0] != "device_code" {
		t.Fatalf("info %+v", info)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	want := sdk.Grant{
		Flow: "device_code", Server: "docs",
		Endpoints: sdk.Endpoints{Issuer: "https://as.example", TokenURL: "https://as.example/token", DeviceAuthorizationURL: "https://as.example/device_authorization"},
		Client:    sdk.Client{ClientID: "c1", ClientSecret: "s1"},
		Scopes:    []string{"read", "write"}, Resource: "https://mcp.example/mcp",
		ExtraTokenParams: map[string]string{"audience": "x"}, Options: []byte(`{"a":1}`), Timeout: 90 * time.Second,
	}
	st, err := client.Begin(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	got := <-impl.grant
	if got.Endpoints != want.Endpoints || got.Client != want.Client || strings.Join(got.Scopes, " ") != "read write" ||
		got.Resource != want.Resource || got.ExtraTokenParams["audience"] != "x" || string(got.Options) != `{"a":1}` || got.Timeout != want.Timeout {
		t.Fatalf("the plugin got %+v", got)
	}
	if st.FlowID != "f1" || st.UserCode != "ABCD-EFGH" || st.ExpiresIn != 10*time.Minute || st.Token != nil {
		t.Fatalf("started %+v", st)
	}

	// Abandoning Await reaches the plugin.
	actx, acancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := client.Await(actx, st.FlowID)
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	acancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("await after cancel: %v", err)
	}
	select {
	case err := <-impl.abandoned:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the plugin saw the flow end with %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the plugin never saw the flow abandoned")
	}

	// A plugin's error reaches the host in its words.
	if _, err := client.Await(ctx, "unknown"); err == nil || !strings.Contains(err.Error(), "no flow unknown") {
		t.Fatalf("await unknown: %v", err)
	}
	if _, err := client.Refresh(ctx, want, "rt-0"); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("refresh with a spent token: %v", err)
	}
	tok, err := client.Refresh(ctx, want, "rt-1")
	if err != nil || tok.AccessToken != "at-2" || tok.RefreshToken != "rt-2" || !tok.Expiry.Equal(time.Unix(2000000000, 0)) || tok.Scopes[0] != "read" {
		t.Fatalf("refresh: %#v %v", tok, err)
	}
	if strings.Contains(tok.String(), "at-2") || strings.Contains(tok.String(), "rt-2") {
		t.Fatalf("Token.String shows a secret: %s", tok)
	}

	// A flow without a user returns its token from Begin.
	want.Flow = "client_credentials"
	st, err = client.Begin(ctx, want)
	if err != nil || st.Token == nil || st.Token.AccessToken != "at" || st.FlowID != "" {
		t.Fatalf("client credentials: %+v %v", st, err)
	}
}
