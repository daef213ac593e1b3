package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk/sdktest"
)

// The plugin runs in-process against the proxy's own host-side client,
// over real gRPC: what the proxy will see, without building a binary.
func TestExecFlow(t *testing.T) {
	client, info := sdktest.Auth(t, &Exec{Version: "test"})
	if info.Kind != sdk.KindAuth || info.Names[0] != "exec" {
		t.Fatalf("info %+v", info)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	needs, err := client.Needs(ctx, "exec")
	if err != nil || needs.AuthorizationServer || needs.Client {
		t.Fatalf("needs %+v %v", needs, err)
	}

	// The command prints the token; a file stands for the CLI's cache.
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("tok-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := sdk.Grant{Flow: "exec", Server: "corp", Options: []byte(`{"command": ["cat", "` + file + `"], "ttl_s": 60}`)}
	st, err := client.Begin(ctx, g)
	if err != nil || st.Token == nil || st.Token.AccessToken != "tok-1" {
		t.Fatalf("begin %+v %v", st, err)
	}
	if left := time.Until(st.Token.Expiry); left < 50*time.Second || left > 61*time.Second {
		t.Fatalf("expiry in %s, want about a minute", left)
	}
	if err := os.WriteFile(file, []byte("tok-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := client.Refresh(ctx, g, "")
	if err != nil || tok.AccessToken != "tok-2" {
		t.Fatalf("refresh %+v %v", tok, err)
	}
}

func TestExecErrors(t *testing.T) {
	client, _ := sdktest.Auth(t, &Exec{})
	ctx := context.Background()
	for name, c := range map[string]struct{ options, want string }{
		"no options":      {"", `needs "options": {"command"`},
		"empty command":   {`{"command": []}`, `"command" must name a program`},
		"not found":       {`{"command": ["/nonexistent/print-token"]}`, "/nonexistent/print-token failed"},
		"failing command": {`{"command": ["sh", "-c", "echo secret-output; echo 'not logged in' >&2; exit 3"]}`, "not logged in"},
		"prints nothing":  {`{"command": ["true"]}`, "printed no token"},
		"too slow":        {`{"command": ["sleep", "5"]}`, "did not finish within"},
	} {
		g := sdk.Grant{Flow: "exec", Options: []byte(c.options), Timeout: 300 * time.Millisecond}
		_, err := client.Begin(ctx, g)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret-output") {
			t.Errorf("%s: the command's output reached the error: %v", name, err)
		}
	}
}
