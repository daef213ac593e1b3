package e2e

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// TestServeHTTP: `serve --http` on a loopback port makes its bearer token
// (0600), refuses requests without it and addresses that are not
// loopback, serves a session client and a stateless request from the
// same upstream, and leaves no upstream behind when it is killed.
func TestServeHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeProject(t, map[string]any{"demo": demoServer()})
	if out, err := e.command("serve", "--http", "0.0.0.0:0").CombinedOutput(); err == nil || !strings.Contains(string(out), "loopback") {
		t.Fatalf("serve --http on every interface: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	cmd := e.command("serve", "--http", addr)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	serving := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			if !once && strings.Contains(sc.Text(), "serving MCP over streamable HTTP") {
				once = true
				close(serving)
			}
		}
	}()
	select {
	case <-serving:
	case <-time.After(30 * time.Second):
		t.Fatal("serve --http did not start")
	}
	tokenFile := filepath.Join(e.home, "http-token")
	fi, err := os.Stat(tokenFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the token file: %v %v", fi, err)
	}
	token, _ := os.ReadFile(tokenFile)
	url := "http://" + addr + "/mcp"
	post := func(body string, header map[string]string) (int, http.Header, string) {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(data)
	}
	if status, _, _ := post(`{}`, map[string]string{"Authorization": ""}); status != http.StatusUnauthorized {
		t.Fatalf("without the token: %d", status)
	}
	status, h, body := post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}`, nil)
	sid := h.Get("Mcp-Session-Id")
	if status != 200 || sid == "" {
		t.Fatalf("initialize: %d %s", status, body)
	}
	session := map[string]string{"Mcp-Session-Id": sid}
	post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, session)
	_, _, body = post(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"demo.echo","arguments":{"message":"in a session"}}}`, session)
	if !strings.Contains(body, `"in a session"`) {
		t.Fatalf("a session's call: %s", body)
	}
	_, _, body = post(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"demo.echo","arguments":{"message":"stateless"},`+
		`"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`, nil)
	if last := body[strings.LastIndex(body, "{\"jsonrpc\""):]; gjson.Get(strings.TrimSpace(last), "result.content.0.text").Str != "stateless" {
		t.Fatalf("a stateless call: %s", body)
	}
	// Two upstreams: the session's own core, and the stateless one.
	var demos []proc
	for _, d := range descendants(cmd.Process.Pid) {
		if strings.Contains(d.comm, "ica-demo") {
			demos = append(demos, d)
		}
	}
	if runtime.GOOS == "linux" && len(demos) != 2 {
		t.Fatalf("%d demo upstreams under the proxy, want 2 (a session's and the stateless core's): %v", len(demos), demos)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	waitGone(t, demos, 10*time.Second)
}
