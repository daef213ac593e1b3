package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/pluginhost"
)

// survivorsEnv configures a real npx upstream (npx starts node as a
// grandchild), a shell that forks a sleeping grandchild and keeps stdin
// open, and the Go demo.
func survivorsEnv(t *testing.T) *env {
	t.Helper()
	needPeers(t)
	e := newEnv(t)
	e.writeProject(t, map[string]any{
		"npx": map[string]any{
			"command": "npx",
			"args":    []string{"--offline", "mcp-server-everything", "stdio"},
			"cwd":     peersDir,
		},
		// Not an MCP server: it never answers, and its grandchild ignores
		// stdin closing. Only signals to the process group end it. It
		// writes to stderr all along, which its plugin logs to the proxy's
		// stderr: once the proxy is gone, that pipe is broken (a plugin
		// that died of SIGPIPE there left the grandchild running). Its
		// timeout outlasts the test, so that the proxy does not give up on
		// it (and end it) before the processes are counted on a slow machine.
		"forker": map[string]any{
			"command": "sh",
			"args":    []string{"-c", "sleep 300 & sleep 300 & while :; do echo tick >&2; sleep 0.1; done"},
			"timeout": 300,
		},
		"demo": demoServer(),
	})
	// The forker never lists; the first tools/list need not wait long
	// for it, since the processes are counted anyway.
	e.set("ICA_MCP_PROXY_LIST_WAIT_S=2")
	return e
}

func TestNoSurvivors(t *testing.T) {
	t.Parallel()
	repeated(t, testNoSurvivors, onStreams, parentWatch)
}

func testNoSurvivors(t *testing.T) {
	sigint := func(p *rpc) { _ = p.cmd.Process.Signal(syscall.SIGINT) }
	for _, tc := range []struct {
		name string
		end  func(p *rpc)
		// ignoreInt starts the proxy with SIGINT ignored, as a parent
		// that ignores it (nohup, some runtimes) passes on.
		ignoreInt bool
	}{
		{name: "stdin-eof", end: func(p *rpc) { _ = p.stdin.Close() }},
		{name: "sigterm", end: func(p *rpc) { _ = p.cmd.Process.Signal(syscall.SIGTERM) }},
		{name: "sigkill", end: func(p *rpc) { _ = p.cmd.Process.Signal(syscall.SIGKILL) }},
		{name: "sigint", end: sigint},
		{name: "sigint-ignored-by-parent", end: sigint, ignoreInt: true},
		// Claude Code ends a server with SIGINT, then SIGTERM 100 ms later.
		{name: "sigint-then-sigterm", end: func(p *rpc) {
			sigint(p)
			time.Sleep(100 * time.Millisecond)
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := survivorsEnv(t)
			cmd := e.command()
			if tc.ignoreInt {
				// The shell execs the proxy, so the pid is the proxy's and
				// SIGINT stays ignored across the exec.
				cmd.Args = []string{"sh", "-c", `trap "" INT; exec "$0"`, cmd.Path}
				cmd.Path = "/bin/sh"
			}
			p := startRPC(t, cmd)
			p.initialize()
			p.toolNames() // starts every upstream
			pid := p.cmd.Process.Pid
			// comm is cut to 15 characters.
			ps := waitDescendants(t, pid, "ica-plugin-tran", "node", "ica-demo-upstre", "sleep")
			var nodes, sleeps int
			for _, d := range ps {
				switch d.comm {
				case "node":
					nodes++
				case "sleep":
					sleeps++
				}
			}
			if sleeps < 2 {
				t.Fatalf("the forking upstream did not start its grandchild: %+v", ps)
			}
			t.Logf("%d processes below the proxy (%d node, %d sleep)", len(ps), nodes, sleeps)
			tc.end(p)
			// What is asserted is that every one goes; the bound leaves
			// room for a machine busy with the other tests running in
			// parallel (each process ends within a second alone).
			waitGone(t, append(ps, proc{pid: pid, comm: "ica-mcp-proxy"}), 15*time.Second)
		})
	}
}

func TestPluginsListAndInstall(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out, err := e.command("plugins", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Plugins []struct {
			File    string   `json:"file"`
			Kind    string   `json:"kind"`
			Names   []string `json:"names"`
			Refused string   `json:"refused"`
		} `json:"plugins"`
	}
	if err := jsonUnmarshal(out, &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// The bundled plugins, in file order, each started and asked its Info.
	want := []struct{ kind, name string }{
		{"auth", "client_credentials"}, {"auth", "device_code"}, {"auth", "identity_assertion"}, {"auth", "pkce"},
		{"transport", "http"}, {"transport", "sse"}, {"transport", "stdio"},
	}
	if len(rep.Plugins) != len(want) {
		t.Fatalf("plugins list: %s", out)
	}
	for i, w := range want {
		p := rep.Plugins[i]
		if p.Kind != w.kind || len(p.Names) == 0 || p.Names[0] != w.name || p.Refused != "" {
			t.Fatalf("plugin %d should be a %s plugin providing %s: %s", i, w.kind, w.name, out)
		}
	}
	// A file that is not executable, and one with an unknown kind, are
	// listed with the reason and never started.
	writeFile(t, filepath.Join(e.home, "plugins", "ica-plugin-transport-noexec"), "#!/bin/sh\n", 0o644)
	writeFile(t, filepath.Join(e.home, "plugins", "ica-plugin-gadget-x"), "#!/bin/sh\n", 0o755)
	out, err = e.command("plugins", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	if err := jsonUnmarshal(out, &rep); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, p := range rep.Plugins {
		reasons[p.File] = p.Refused
	}
	if reasons["ica-plugin-transport-noexec"] != "is not executable" || reasons["ica-plugin-gadget-x"] != `unknown plugin kind "gadget"` {
		t.Fatalf("refusals: %v", reasons)
	}
}

// The plugins run are the ones installed: a plugin changed after install,
// a plugins folder others can write to, and a symlink leading out of the
// folder are each refused with the reason, and never started.
func TestPluginIntegrity(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeProject(t, map[string]any{"demo": demoServer()})
	dir := filepath.Join(e.home, "plugins")
	verify := func() (string, bool) {
		out, err := e.command("plugins", "verify").CombinedOutput()
		return string(out), err == nil
	}
	if out, ok := verify(); !ok {
		t.Fatalf("freshly installed plugins fail verification:\n%s", out)
	}
	stdio := filepath.Join(dir, "ica-plugin-transport-stdio")

	// Modified after install: refused, and the proxy cannot start its
	// servers with it.
	orig, err := os.ReadFile(stdio)
	if err != nil {
		t.Fatal(err)
	}
	replaceFile(t, stdio, append(append([]byte(nil), orig...), 0))
	if out, ok := verify(); ok || !strings.Contains(out, "changed since it was installed") {
		t.Fatalf("a modified plugin passed verification:\n%s", out)
	}
	out, _ := e.command("servers").CombinedOutput()
	if !strings.Contains(string(out), "changed since it was installed") {
		t.Fatalf("servers should name the refused plugin:\n%s", out)
	}
	replaceFile(t, stdio, orig)
	if out, ok := verify(); !ok {
		t.Fatalf("restored plugin refused:\n%s", out)
	}

	// A symlink out of the folder.
	outside := filepath.Join(t.TempDir(), "ica-plugin-transport-evil")
	if err := os.WriteFile(outside, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "ica-plugin-transport-evil")); err != nil {
		t.Fatal(err)
	}
	if out, ok := verify(); ok || !strings.Contains(out, "symlink leading out of the plugins folder") {
		t.Fatalf("a symlink out of the folder passed:\n%s", out)
	}
	_ = os.Remove(filepath.Join(dir, "ica-plugin-transport-evil"))

	// A folder others can write to refuses every plugin.
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	out2, ok := verify()
	_ = os.Chmod(dir, 0o700)
	if ok || !strings.Contains(out2, "writable by other users") {
		t.Fatalf("a world-writable plugins folder passed:\n%s", out2)
	}
}

// The proxy's executable is its bundled plugins too: started with an empty
// ICA_HOME it links them into $ICA_HOME/plugins, says so once on stderr,
// and uses them; a plugin of another version (as an upgrade of the proxy
// leaves behind) is replaced on the next start.
func TestBundledPluginsInstallThemselves(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	e := &env{home: filepath.Join(root, "home"), project: filepath.Join(root, "project")}
	if err := os.MkdirAll(e.project, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(e.home, 0o700); err != nil {
		t.Fatal(err)
	}
	e.writeHome(t, map[string]any{"demo": demoServer()})
	tools := func() string {
		t.Helper()
		cmd := e.command("tools")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || !strings.Contains(string(out), `"demo.echo"`) {
			t.Fatalf("tools: %v\n%s\n%s", err, out, stderr.String())
		}
		return stderr.String()
	}
	bundled := []string{"ica-plugin-auth-client-credentials", "ica-plugin-auth-device", "ica-plugin-auth-enterprise", "ica-plugin-auth-pkce",
		"ica-plugin-transport-http", "ica-plugin-transport-sse", "ica-plugin-transport-stdio"}
	self, err := os.Stat(proxyBin())
	if err != nil {
		t.Fatal(err)
	}
	linked := func() {
		t.Helper()
		for _, name := range bundled {
			fi, err := os.Stat(filepath.Join(e.home, "plugins", name))
			if err != nil || !os.SameFile(self, fi) {
				t.Fatalf("%s is not a hard link to the proxy: %v", name, err)
			}
		}
	}

	if stderr := tools(); strings.Count(stderr, "installed the bundled plugins") != 1 || !strings.Contains(stderr, "hard links to") {
		t.Fatalf("first start, stderr:\n%s", stderr)
	}
	linked()
	if stderr := tools(); strings.Contains(stderr, "installed") {
		t.Fatalf("second start installed again:\n%s", stderr)
	}

	// Another version's plugin, recorded as installed.
	stdio := filepath.Join(e.home, "plugins", "ica-plugin-transport-stdio")
	old, err := os.ReadFile(demoBin())
	if err != nil {
		t.Fatal(err)
	}
	replaceFile(t, stdio, old)
	sum, err := pluginhost.FileSHA256(stdio)
	if err != nil {
		t.Fatal(err)
	}
	if err := pluginhost.NewIntegrity(filepath.Join(e.home, "plugins"), filepath.Join(e.home, pluginhost.LockFileName)).Record(filepath.Base(stdio), sum); err != nil {
		t.Fatal(err)
	}
	if stderr := tools(); !strings.Contains(stderr, "installed the bundled plugins ica-plugin-transport-stdio into") {
		t.Fatalf("an old plugin was not replaced:\n%s", stderr)
	}
	linked()
}
