package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// `go install …/cmd/ica-mcp-proxy` is the whole install: into an empty
// GOBIN, with an empty $ICA_HOME, the one executable serves a stdio, a
// streamable HTTP and an SSE upstream and logs in to a protected server,
// with no other step. Its first start puts the bundled plugins in place
// (one line on stderr); later starts find them.
func TestGoInstall(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the proxy")
	}
	needPeers(t)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	gobin := t.TempDir()
	// -trimpath as `make build` builds, so the build cache serves both.
	install := exec.Command("go", "install", "-trimpath", "./cmd/ica-mcp-proxy")
	install.Dir = root
	install.Env = append(os.Environ(), "GOBIN="+gobin)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("go install: %v\n%s", err, out)
	}
	entries, _ := os.ReadDir(gobin)
	if len(entries) != 1 || entries[0].Name() != "ica-mcp-proxy" {
		t.Fatalf("GOBIN holds %v", entries)
	}

	web := everythingRemote(t, "streamableHttp")
	old := everythingRemote(t, "sse")
	svc := newIntrospectedServer(t)
	svc.issuer = startOIDC(t, svc.srv.URL+"/mcp")
	script := filepath.Join(peersDir, "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js")
	base := t.TempDir()
	e := &env{home: filepath.Join(base, "home"), project: filepath.Join(base, "project"), bin: filepath.Join(gobin, "ica-mcp-proxy")}
	for _, dir := range []string{e.project, e.home} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.set("SVC_SECRET=s3cret")
	e.writeHome(t, map[string]any{
		"local": map[string]any{"command": "node", "args": []string{script, "stdio"}},
		"web":   map[string]any{"type": "http", "url": web + "/mcp"},
		"old":   map[string]any{"type": "sse", "url": old + "/sse"},
		"svc": map[string]any{"url": svc.srv.URL + "/mcp", "oauth": map[string]any{
			"flow": "client_credentials", "client_id": "svc", "client_secret": "${SVC_SECRET}", "scopes": "mcp",
		}},
	})
	c := startRPC(t, e.command())
	c.initialize()
	for _, tool := range []string{"local.echo", "web.echo", "old.echo"} {
		waitTool(t, c, tool)
		if got := decodeResult(t, c.callTool(tool, map[string]any{"message": "hi " + tool})).text(); !strings.Contains(got, "hi "+tool) {
			t.Fatalf("%s: %q", tool, got)
		}
	}
	stopProxy(c)
	if n := strings.Count(c.stderr.String(), "installed the bundled plugins"); n != 1 {
		t.Fatalf("the first start said %d times that it installed the bundled plugins:\n%s", n, c.stderr.String())
	}

	out, err := e.command("auth", "login", "svc").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "logged in to svc") {
		t.Fatalf("auth login: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "installed the bundled plugins") {
		t.Fatalf("a later start installed the plugins again:\n%s", out)
	}
	out, err = e.command("call", "svc", "whoami").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "a caller oidc-provider vouched for") {
		t.Fatalf("call after login: %v\n%s", err, out)
	}
	plugins, _ := os.ReadDir(filepath.Join(e.home, "plugins"))
	var names []string
	for _, p := range plugins {
		names = append(names, p.Name())
	}
	for _, want := range []string{"ica-plugin-transport-stdio", "ica-plugin-transport-http", "ica-plugin-transport-sse", "ica-plugin-auth-client-credentials"} {
		if !slices.Contains(names, want) {
			t.Fatalf("$ICA_HOME/plugins lacks %s: %v", want, names)
		}
	}
}
