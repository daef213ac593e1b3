package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The out-of-tree example plugin (examples/auth-exec, its own module that
// imports only the sdk) is built, installed with `plugins install`, and
// used to reach the OAuth-protected upstream: the token is what a command
// prints, the proxy discovers and registers nothing, and when the server
// refuses the token the proxy runs the command again.
func TestOutOfTreeAuthPlugin(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "ica-plugin-auth-exec")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = "../../examples/auth-exec"
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the example: %v\n%s", err, out)
	}

	site := newProtectedSite(t)
	e := newEnv(t)
	out, err := e.command("plugins", "install", bin).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "provides: exec") || !strings.Contains(string(out), "sha256: ") {
		t.Fatalf("plugins install: %v\n%s", err, out)
	}

	// The "CLI" that mints tokens: it prints what is in a file.
	tokenFile := filepath.Join(t.TempDir(), "token")
	issue := func(tok string) {
		site.mu.Lock()
		site.valid[tok] = true
		site.mu.Unlock()
		writeFile(t, tokenFile, tok+"\n", 0o600)
	}
	issue("exec-1")
	e.writeProject(t, map[string]any{
		"corp": map[string]any{"url": site.srv.URL + "/mcp", "oauth": map[string]any{
			"flow": "exec", "options": map[string]any{"command": []string{"cat", tokenFile}},
		}},
	})
	out, err = e.command("auth", "login", "corp").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "logged in to corp") {
		t.Fatalf("auth login: %v\n%s", err, out)
	}
	site.mu.Lock()
	registered := site.register
	site.mu.Unlock()
	if registered != 0 {
		t.Fatalf("the proxy registered %d client(s) for a flow that needs none", registered)
	}

	c := startProxy(t, e)
	if got := decodeResult(t, c.callTool("corp.whoami", map[string]any{})).text(); !strings.Contains(got, "an authorized caller") {
		t.Fatalf("corp.whoami: %q", got)
	}
	// The server stops accepting the token; the command now prints a new
	// one, which the proxy fetches on the 401 without asking anyone.
	site.mu.Lock()
	delete(site.valid, "exec-1")
	site.mu.Unlock()
	issue("exec-2")
	if got := decodeResult(t, c.callTool("corp.whoami", map[string]any{})).text(); !strings.Contains(got, "an authorized caller") {
		t.Fatalf("corp.whoami after the token was refused: %q", got)
	}
	data, err := os.ReadFile(filepath.Join(e.home, "mcp-tokens.json"))
	if err != nil || !strings.Contains(string(data), "exec-2") {
		t.Fatalf("the new token is not stored: %v", err)
	}
}
