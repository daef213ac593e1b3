package e2e

// The Windows builds, end to end, under Wine 10 in a Debian trixie chroot
// (scripts/wine/chroot.sh): `make test-windows` builds the proxy and the
// demo upstream for windows/amd64 into ICA_TEST_WINE_BIN and runs these.
// Everything Windows-side is Windows code: the proxy, its plugins (copies
// or hard links of it), the upstreams, cmd.exe for a batch file, Job
// Objects, access lists. What serves them from outside (oidc-provider, the
// MCP server behind a login) runs on the Linux side of the same loopback.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// wineBin holds ica-mcp-proxy.exe and ica-demo-upstream.exe, or is "".
func wineBin(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ICA_TEST_WINE_BIN")
	if dir == "" {
		t.Skip("the Windows builds run under Wine with `make test-windows`")
	}
	return dir
}

// winPath is how Wine names a host path: drive Z: is the chroot's root,
// where /tmp and the repository are mounted at their own paths.
func winPath(p string) string { return "Z:" + strings.ReplaceAll(p, "/", `\`) }

// wineCommand runs the Windows program exe (a host path) under Wine in
// the folder dir, with only the variables vars (and Wine's own).
func wineCommand(dir string, vars []string, exe string, args ...string) *exec.Cmd {
	script, _ := filepath.Abs("../../scripts/wine/chroot.sh")
	all := append(append([]string{"run"}, vars...), "wine", winPath(exe))
	cmd := exec.Command(script, append(all, args...)...)
	cmd.Env = append(os.Environ(), "WINE_CWD="+dir)
	return cmd
}

// newWineEnv is an env whose proxy is the Windows build under Wine, with
// its own copies of the binaries, all under one folder in /tmp (which the
// chroot shares). When the test ends, no process of that folder may be
// left: the check of "every child dies with the proxy".
func newWineEnv(t *testing.T) *env {
	t.Helper()
	bins := wineBin(t)
	root, err := os.MkdirTemp("/tmp", "ica-wine-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if left := waitNoWineProcs(root, 15*time.Second); len(left) > 0 {
			t.Errorf("processes left behind after the test:\n%s", strings.Join(left, "\n"))
			killWineProcs(root)
		}
		_ = os.RemoveAll(root)
	})
	e := &env{home: filepath.Join(root, "home"), project: filepath.Join(root, "project"), wine: root}
	for _, name := range []string{"ica-mcp-proxy.exe", "ica-demo-upstream.exe"} {
		data, err := os.ReadFile(filepath.Join(bins, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "bin", name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.bin = filepath.Join(root, "bin", "ica-mcp-proxy.exe")
	e.install(t)
	return e
}

// wineProfile is the host path of Wine's C:\users\root, in its prefix in
// the chroot: Wine sets USERPROFILE and APPDATA there itself.
func wineProfile() string {
	chroot := os.Getenv("WINE_CHROOT")
	if chroot == "" {
		chroot = filepath.Join(os.Getenv("HOME"), ".cache", "ica-mcp-proxy", "trixie-wine")
	}
	return filepath.Join(chroot, "root", ".wine", "drive_c", "users", "root")
}

func (e *env) wineDemo() string { return filepath.Join(e.wine, "bin", "ica-demo-upstream.exe") }

// wineProcs lists the processes whose command line names a file under
// root, as "pid command line". Wine's processes are Linux processes; a
// Windows program's command line shows its Windows path.
func wineProcs(root string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, d := range entries {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil {
			continue
		}
		line := strings.TrimSpace(string(bytes.ReplaceAll(raw, []byte{0}, []byte{' '})))
		low := strings.ToLower(line)
		// The chroot script's own shell names the folder too (WINE_CWD
		// is not in its command line, but the Windows path may be).
		if strings.Contains(low, "chroot.sh") || strings.HasPrefix(low, "/usr/sbin/chroot") || strings.HasPrefix(low, "chroot ") || strings.HasPrefix(low, "/usr/bin/env") {
			continue
		}
		if strings.Contains(low, strings.ToLower(root)) || strings.Contains(low, strings.ToLower(winPath(root))) {
			out = append(out, fmt.Sprintf("%d %s", pid, line))
		}
	}
	sort.Strings(out)
	return out
}

func waitNoWineProcs(root string, d time.Duration) []string {
	deadline := time.Now().Add(d)
	for {
		left := wineProcs(root)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func killWineProcs(root string) {
	for _, p := range wineProcs(root) {
		pid, _ := strconv.Atoi(strings.Fields(p)[0])
		if proc, err := os.FindProcess(pid); err == nil {
			_ = proc.Kill()
		}
	}
}

// startWineListener runs a Windows program serving HTTP on a free
// loopback port (its args get the port through port()), and returns the
// address once it accepts connections.
func startWineListener(t *testing.T, e *env, exe string, args func(port string) []string) string {
	t.Helper()
	port := freePort(t)
	cmd := wineCommand(e.wine, nil, exe, args(port)...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	startTree(t, cmd, func() {
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(exe), out.String())
		}
	})
	addr := "127.0.0.1:" + port
	for range 300 {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			_ = c.Close()
			return addr
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not listen on %s within 30s:\n%s", exe, addr, out.String())
	return ""
}

// A session under Windows: the bundled plugins start, a stdio upstream is
// listed and called, so is one behind a batch file found through PATHEXT
// (its arguments, cmd.exe's metacharacters among them, arrive unchanged;
// one that cannot be passed safely is refused, naming it), an upstream
// killed mid-call fails that call and the next call works, and at stdin's
// end the proxy exits and leaves no process behind.
func TestWineSession(t *testing.T) {
	e := newWineEnv(t)
	cmdDir := filepath.Join(e.wine, "cmdbin")
	if err := os.MkdirAll(cmdDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// What npm writes for a package's command, in miniature: a batch file
	// that passes %* on to the program.
	script := "@echo off\r\n\"" + winPath(e.wineDemo()) + "\" %*\r\n"
	if err := os.WriteFile(filepath.Join(cmdDir, "demo-server.cmd"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	path := winPath(cmdDir) + `;C:\windows\system32;C:\windows`
	args := []string{"--", "a&calc.exe", "x|y", "<in>", "^caret", "(p)", `C:\dir with space\`, "two words", ""}
	e.writeHome(t, map[string]any{
		"demo":   map[string]any{"command": winPath(e.wineDemo())},
		"batch":  map[string]any{"command": "demo-server", "args": args, "env": map[string]any{"PATH": path}},
		"unsafe": map[string]any{"command": "demo-server", "args": []string{"--", "100%"}, "env": map[string]any{"PATH": path}},
	})

	// The plugins: each starts and answers (doctor starts them all).
	out, _ := e.command("doctor").CombinedOutput()
	for _, name := range []string{"auth-client-credentials", "auth-device", "auth-enterprise", "auth-pkce", "transport-http", "transport-sse", "transport-stdio"} {
		if !lineHasInOrder(string(out), "ok", "ica-plugin-"+name+".exe") {
			t.Errorf("doctor does not show ica-plugin-%s.exe ok:\n%s", name, out)
		}
	}

	p := startProxy(t, e)
	if got := decodeResult(t, p.callTool("demo.echo", map[string]any{"message": "hello from Windows"})).text(); got != "hello from Windows" {
		t.Fatalf("demo.echo: %q", got)
	}
	waitTool(t, p, "batch.argv")
	var argv struct {
		StructuredContent struct {
			Args []string `json:"args"`
		} `json:"structuredContent"`
	}
	raw := p.callTool("batch.argv", map[string]any{})
	if err := json.Unmarshal(raw, &argv); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(argv.StructuredContent.Args, args[1:]) {
		t.Errorf("through the batch file the server got\n  %q\nwant\n  %q", argv.StructuredContent.Args, args[1:])
	}
	if slices.Contains(p.toolNames(), "unsafe.echo") {
		t.Error("a batch file was started with an argument cmd.exe would expand")
	}

	// A sanity figure, not a benchmark: Wine is no reference for speed.
	var took []time.Duration
	for i := range 40 {
		start := time.Now()
		p.callTool("demo.echo", map[string]any{"message": strconv.Itoa(i)})
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	t.Logf("under Wine: a proxied tools/call to a stdio upstream, p50 %v, p90 %v (%d calls)", took[len(took)/2], took[len(took)*9/10], len(took))

	// An upstream killed mid-call.
	type outcome struct {
		raw json.RawMessage
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		raw, _, err := p.request(ctx, "tools/call", map[string]any{"name": "demo.sleep", "arguments": map[string]any{"ms": 60000}})
		done <- outcome{raw, err}
	}()
	time.Sleep(time.Second)
	var victim int
	for _, line := range wineProcs(e.wine) {
		if strings.HasSuffix(strings.ToLower(line), "ica-demo-upstream.exe") {
			victim, _ = strconv.Atoi(strings.Fields(line)[0])
		}
	}
	if victim == 0 {
		t.Fatalf("no demo upstream process found among:\n%s", strings.Join(wineProcs(e.wine), "\n"))
	}
	killProcess(t, victim)
	killed := time.Now()
	select {
	case o := <-done:
		if o.err != nil {
			t.Fatal(o.err)
		}
		if !strings.Contains(string(o.raw), `"error"`) && !strings.Contains(string(o.raw), `"isError":true`) {
			t.Fatalf("the call whose upstream was killed succeeded: %s", o.raw)
		}
		t.Logf("the call in flight failed %v after its upstream was killed: %s", time.Since(killed).Round(time.Millisecond), o.raw)
	case <-time.After(20 * time.Second):
		t.Fatal("the call in flight did not end within 20s of its upstream's death")
	}
	if got := decodeResult(t, p.callTool("demo.echo", map[string]any{"message": "again"})).text(); got != "again" {
		t.Fatalf("the call after the kill: %q", got)
	}

	// The unsafe entry's error names the cause.
	out, _ = e.command("servers").CombinedOutput()
	if !strings.Contains(string(out), "unsafe") || !strings.Contains(string(out), "batch file") {
		t.Errorf("servers does not say why unsafe did not start:\n%s", out)
	}

	// Stdin's end ends the proxy, and with it every process it started.
	_ = p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the proxy did not exit within 20s of stdin's end")
	}
	if left := waitNoWineProcs(e.wine, 15*time.Second); len(left) > 0 {
		t.Fatalf("after stdin's end, still running:\n%s", strings.Join(left, "\n"))
	}
}

// lineHasInOrder says whether a line of out has every one of words, in
// order.
func lineHasInOrder(out string, words ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		rest, ok := line, true
		for _, w := range words {
			i := strings.Index(rest, w)
			if i < 0 {
				ok = false
				break
			}
			rest = rest[i+len(w):]
		}
		if ok {
			return true
		}
	}
	return false
}

// Remote upstreams under Windows: a streamable HTTP server on loopback
// (the Windows build of the demo upstream), and a login with client
// credentials against oidc-provider for a server that checks each token.
func TestWineRemote(t *testing.T) {
	e := newWineEnv(t)
	addr := startWineListener(t, e, e.wineDemo(), func(port string) []string { return []string{"-http", "127.0.0.1:" + port} })
	mcpSrv := newIntrospectedServer(t)
	mcpSrv.issuer = startOIDC(t, mcpSrv.srv.URL+"/mcp")
	e.set("SVC_SECRET=s3cret")
	e.writeHome(t, map[string]any{
		"web": map[string]any{"type": "http", "url": "http://" + addr + "/mcp"},
		"svc": map[string]any{"url": mcpSrv.srv.URL + "/mcp", "oauth": map[string]any{
			"flow": "client_credentials", "client_id": "svc", "client_secret": "${SVC_SECRET}", "scopes": "mcp",
		}},
	})
	out, err := e.command("call", "web", "echo", `{"message":"over HTTP"}`).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "over HTTP") {
		t.Fatalf("call web echo: %v\n%s", err, out)
	}
	if out, err := e.command("auth", "login", "svc").CombinedOutput(); err != nil || !strings.Contains(string(out), "logged in to svc") {
		t.Fatalf("auth login: %v\n%s", err, out)
	}
	out, err = e.command("call", "svc", "whoami").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "a caller oidc-provider vouched for") {
		t.Fatalf("call after login: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(e.home, "mcp-tokens.json")); err != nil {
		t.Fatalf("the token store: %v", err)
	}
}

// Where things go on Windows: ICA_HOME defaults to %USERPROFILE%\.ica,
// the plugins are hard links to the proxy where the disk allows, register
// writes Claude Desktop's config under %APPDATA%, and a plugins folder
// that Everyone may write (by its access list) is refused, naming it.
func TestWineHomeAndRegister(t *testing.T) {
	e := newWineEnv(t)
	// Installed into ICA_HOME on the same disk as the proxy: hard links.
	a, errA := os.Stat(filepath.Join(e.home, "plugins", "ica-plugin-transport-stdio.exe"))
	b, errB := os.Stat(e.bin)
	if errA != nil || errB != nil || !os.SameFile(a, b) {
		t.Errorf("the plugin is not a hard link to the proxy on one disk (%v, %v)", errA, errB)
	}
	// Without ICA_HOME: %USERPROFILE%\.ica, which Wine keeps in its
	// prefix inside the chroot (drive C:), another disk than /tmp: copies.
	defaultHome := filepath.Join(wineProfile(), ".ica")
	_ = os.RemoveAll(defaultHome)
	t.Cleanup(func() { _ = os.RemoveAll(defaultHome) })
	out, err := wineCommand(e.project, nil, e.bin, "plugins", "install").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `C:\users\root\.ica\plugins (copies of`) {
		t.Fatalf("plugins install without ICA_HOME: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(defaultHome, "plugins", "ica-plugin-transport-stdio.exe")); err != nil {
		t.Fatalf("%%USERPROFILE%%\\.ica: %v", err)
	}

	// Register: Claude Desktop's config under %APPDATA% (Wine sets it to
	// the profile's AppData\Roaming, whatever the environment says).
	appdata := filepath.Join(wineProfile(), "AppData", "Roaming")
	_ = os.RemoveAll(filepath.Join(appdata, "Claude"))
	t.Cleanup(func() { _ = os.RemoveAll(filepath.Join(appdata, "Claude")) })
	if err := os.MkdirAll(filepath.Join(appdata, "Claude"), 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := e.command("register", "claude-desktop", "--write").CombinedOutput(); err != nil || !strings.Contains(string(out), `C:\users\root\AppData\Roaming\Claude\claude_desktop_config.json`) {
		t.Fatalf("register claude-desktop --write: %v\n%s", err, out)
	}
	var cfg struct {
		MCPServers map[string]struct {
			Command string `json:"command"`
		} `json:"mcpServers"`
	}
	data, err := os.ReadFile(filepath.Join(appdata, "Claude", "claude_desktop_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if got := cfg.MCPServers["ica-mcp-proxy"].Command; !strings.EqualFold(got, winPath(e.bin)) {
		t.Errorf("registered command %q, want %q:\n%s", got, winPath(e.bin), data)
	}

	if err := os.Chmod(filepath.Join(e.home, "plugins"), 0o777); err != nil {
		t.Fatal(err)
	}
	out, _ = e.command("doctor").CombinedOutput()
	if !strings.Contains(string(out), "is writable by Everyone") || !strings.Contains(string(out), "icacls") {
		t.Errorf("a plugins folder Everyone may write was not refused:\n%s", out)
	}
}

// The proxy killed outright: the Job Object it put itself in closes with
// it, and Windows (Wine here) ends every process in it, the plugins and
// their upstreams included.
func TestWineProxyKilled(t *testing.T) {
	e := newWineEnv(t)
	e.writeHome(t, map[string]any{"demo": map[string]any{"command": winPath(e.wineDemo())}})
	p := startProxy(t, e)
	p.callTool("demo.echo", map[string]any{"message": "up"})
	running := wineProcs(e.wine)
	if len(running) < 3 {
		t.Fatalf("want the proxy, its stdio plugin and the upstream running, have:\n%s", strings.Join(running, "\n"))
	}
	killProcess(t, p.cmd.Process.Pid)
	if left := waitNoWineProcs(e.wine, 15*time.Second); len(left) > 0 {
		// Killed here, or they would hold the proxy's stderr open and
		// the cleanup's Wait with it.
		killWineProcs(e.wine)
		t.Fatalf("the proxy was killed; still running 15s later:\n%s", strings.Join(left, "\n"))
	}
}

// TestWineHub: on Windows the sessions share one hub over a named pipe
// (the front relays bytes; there is no descriptor passing). The hub
// leaves the front's Job Object when started, so it outlives the front
// that started it; its upstream is shared; `hub stop` ends it, and with
// it every process it started.
func TestWineHub(t *testing.T) {
	e := newWineEnv(t)
	e.set("ICA_MCP_PROXY_HUB=on", "ICA_MCP_PROXY_HUB_LINGER=60")
	e.writeHome(t, map[string]any{"demo": map[string]any{"command": winPath(e.wineDemo())}})
	count := func(suffix string) int {
		n := 0
		for _, line := range wineProcs(e.wine) {
			if strings.HasSuffix(strings.ToLower(line), suffix) {
				n++
			}
		}
		return n
	}
	first := startProxy(t, e)
	second := startProxy(t, e)
	for i, p := range []*rpc{first, second} {
		msg := "session " + strconv.Itoa(i)
		if got := decodeResult(t, p.callTool("demo.echo", map[string]any{"message": msg})).text(); got != msg {
			t.Fatalf("%s: demo.echo said %q", msg, got)
		}
	}
	if n := count("ica-demo-upstream.exe"); n != 1 {
		t.Errorf("%d demo upstreams for two sessions through the hub; want 1:\n%s", n, strings.Join(wineProcs(e.wine), "\n"))
	}
	out, err := e.command("hub", "status", "-o", "json").Output()
	var status struct {
		Sessions []struct {
			Relay bool `json:"relay"`
		} `json:"sessions"`
	}
	if err != nil || json.Unmarshal(out, &status) != nil || len(status.Sessions) != 2 || !status.Sessions[0].Relay || !status.Sessions[1].Relay {
		t.Errorf("hub status does not show two relayed sessions: %v\n%s", err, out)
	}

	// The front that started the hub ends: the hub, outside its job,
	// goes on serving the other session.
	_ = first.stdin.Close()
	select {
	case <-first.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the first front did not exit within 20s of its stdin's end")
	}
	time.Sleep(time.Second)
	if got := decodeResult(t, second.callTool("demo.echo", map[string]any{"message": "still here"})).text(); got != "still here" {
		t.Fatalf("after the first front ended: %q", got)
	}
	if n := count(" hub serve"); n != 1 {
		t.Errorf("%d hubs running after the front that started it ended; want 1:\n%s", n, strings.Join(wineProcs(e.wine), "\n"))
	}

	// hub stop ends the hub, the session, and every process they started.
	if out, err := e.command("hub", "stop").CombinedOutput(); err != nil {
		t.Fatalf("hub stop: %v\n%s", err, out)
	}
	select {
	case <-second.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the second front did not end within 20s of hub stop")
	}
	if left := waitNoWineProcs(e.wine, 15*time.Second); len(left) > 0 {
		t.Fatalf("after hub stop, still running:\n%s", strings.Join(left, "\n"))
	}
}
