//go:build linux

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/mirror"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/register"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/test/modelapi"
)

// The agent runtimes people register the proxy in, run headless from npm
// (pinned in test/peers) against a model API on loopback that plays the
// model: the proxy is registered with `register CLIENT --write` into a
// scratch HOME, the runtime is asked for one turn, the model calls a
// proxied tool whose server and name are long, and the runtime's answer
// must carry the upstream's own result.

// The servers of every run: the Go demo under a long name with long tool
// names (cut to each runtime's budget with the hash suffix; the model calls
// its add), server-everything, and a server that takes 3 s to start and
// has 120 more tools, more than OpenAI's models take in a request.
const (
	longServer = "demo-upstream-with-a-rather-long-server-name"
	longSuffix = "_two_numbers_named_a_and_b"
	slowStart  = 3 * time.Second
	slowExtra  = 120
)

// runtimeCase is how to drive one runtime.
type runtimeCase struct {
	// client is register's CLIENT name; bin the runtime's executable,
	// relative to test/peers/node_modules.
	client, bin string
	// api is the wire format the runtime must use with the fake.
	api string
	// configure writes the runtime's own settings (the model provider at
	// the fake's URL, telemetry and updates off) before register merges
	// the proxy's entry, and returns the runtime's environment.
	configure func(t *testing.T, r *runtimeRun) []string
	// turn is the headless one-turn command line for prompt.
	turn func(r *runtimeRun, prompt string) []string
	// health is the runtime's own MCP health check; connected matches its
	// output when the proxy is connected ("" when the check only reads
	// the config).
	health    []string
	connected *regexp.Regexp
	// unbudgetedRefused says the model API refuses the whole request when
	// the proxy's names are not cut to the runtime's budget (the runtime
	// sends over-long names as they are); otherwise the runtime copes on
	// its own (Gemini CLI cuts names, Codex keeps them in a namespace).
	unbudgetedRefused bool
}

// runtimeRun is one runtime's scratch world.
type runtimeRun struct {
	e       *env
	home    string // the runtime's HOME
	project string
	fake    *modelapi.Server
	// marker is in the environment of every upstream, to find survivors.
	marker string
}

var runtimeCases = []runtimeCase{
	{
		client: "claude-code", bin: ".bin/claude", api: "anthropic",
		configure: func(t *testing.T, r *runtimeRun) []string {
			return []string{
				"ANTHROPIC_BASE_URL=" + r.fake.URL, "ANTHROPIC_API_KEY=sk-ant-test",
				// Tool search defers MCP tools behind a search tool;
				// with it off they are in the first request, as in every
				// runtime below.
				"ENABLE_TOOL_SEARCH=false",
				"DISABLE_TELEMETRY=1", "DISABLE_ERROR_REPORTING=1", "DISABLE_AUTOUPDATER=1",
				"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
			}
		},
		turn: func(r *runtimeRun, prompt string) []string {
			return []string{"-p", prompt, "--allowedTools", "mcp__" + register.DefaultName + "__*"}
		},
		health:            []string{"mcp", "list"},
		connected:         regexp.MustCompile(regexp.QuoteMeta(register.DefaultName) + `: .*Connected`),
		unbudgetedRefused: true,
	},
	{
		client: "codex", bin: ".bin/codex", api: "responses",
		configure: func(t *testing.T, r *runtimeRun) []string {
			dir := filepath.Join(r.home, ".codex")
			mkdir(t, dir)
			// register merges its entry below these keys.
			cfg := fmt.Sprintf(`model = "gpt-test"
model_provider = "fake"
approval_policy = "never"
check_for_update_on_startup = false

[analytics]
enabled = false

[model_providers.fake]
name = "fake"
base_url = "%s/v1"
env_key = "FAKE_API_KEY"
wire_api = "responses"
`, r.fake.URL)
			if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{"CODEX_HOME=" + dir, "FAKE_API_KEY=test"}
		},
		turn: func(r *runtimeRun, prompt string) []string {
			// approval_policy "never" refuses MCP calls that need
			// approval; the server's tools are approved here instead.
			return []string{"exec", "--skip-git-repo-check",
				"-c", `mcp_servers.` + register.DefaultName + `.default_tools_approval_mode="approve"`, prompt}
		},
		// codex mcp list only reads the config.
		health:    []string{"mcp", "list"},
		connected: regexp.MustCompile(regexp.QuoteMeta(register.DefaultName)),
	},
	{
		client: "gemini", bin: ".bin/gemini", api: "gemini",
		configure: func(t *testing.T, r *runtimeRun) []string {
			mkdir(t, filepath.Join(r.home, ".gemini"))
			writeJSON(t, filepath.Join(r.home, ".gemini", "settings.json"), map[string]any{
				"privacy":   map[string]any{"usageStatisticsEnabled": false},
				"telemetry": map[string]any{"enabled": false},
				"general":   map[string]any{"disableAutoUpdate": true, "disableUpdateNag": true},
				"security": map[string]any{
					"auth":        map[string]any{"selectedType": "gemini-api-key"},
					"folderTrust": map[string]any{"enabled": false},
				},
			})
			return []string{"GEMINI_API_KEY=test", "GOOGLE_GEMINI_BASE_URL=" + r.fake.URL}
		},
		turn: func(r *runtimeRun, prompt string) []string {
			return []string{"-p", prompt, "--yolo"}
		},
		health:    []string{"mcp", "list"},
		connected: regexp.MustCompile(regexp.QuoteMeta(register.DefaultName) + `.*Connected`),
	},
	{
		client: "opencode", bin: "opencode-linux-x64-baseline/bin/opencode", api: "chat",
		configure: func(t *testing.T, r *runtimeRun) []string {
			mkdir(t, filepath.Join(r.home, ".config", "opencode"))
			writeJSON(t, filepath.Join(r.home, ".config", "opencode", "opencode.json"), map[string]any{
				"$schema": "https://opencode.ai/config.json",
				"provider": map[string]any{"fake": map[string]any{
					"npm": "@ai-sdk/openai-compatible", "name": "Fake",
					"options": map[string]any{"baseURL": r.fake.URL + "/v1", "apiKey": "test"},
					"models":  map[string]any{"fake-model": map[string]any{"name": "Fake model", "tool_call": true}},
				}},
				"model": "fake/fake-model", "small_model": "fake/fake-model",
				"autoupdate": false, "share": "disabled",
			})
			return []string{
				"XDG_CONFIG_HOME=" + filepath.Join(r.home, ".config"),
				"XDG_DATA_HOME=" + filepath.Join(r.home, ".local", "share"),
				"XDG_CACHE_HOME=" + filepath.Join(r.home, ".cache"),
				"XDG_STATE_HOME=" + filepath.Join(r.home, ".local", "state"),
				"OPENCODE_DISABLE_MODELS_FETCH=1", "OPENCODE_DISABLE_AUTOUPDATE=1",
				"OPENCODE_DISABLE_LSP_DOWNLOAD=1", "OPENCODE_DISABLE_DEFAULT_PLUGINS=1",
				"OPENCODE_DISABLE_SHARE=1",
			}
		},
		turn: func(r *runtimeRun, prompt string) []string {
			return []string{"run", prompt}
		},
		health:            []string{"mcp", "list"},
		connected:         regexp.MustCompile(regexp.QuoteMeta(register.DefaultName) + `.*connected`),
		unbudgetedRefused: true,
	},
}

// lookupIn reads NAME=value entries as os.Getenv would.
func lookupIn(kvs []string) func(string) string {
	return func(name string) string {
		for _, kv := range kvs {
			if k, v, _ := strings.Cut(kv, "="); k == name {
				return v
			}
		}
		return ""
	}
}

// lastLines is the end of a runtime's output, for a log.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}

// runtimeBin is a runtime's executable from the npm peers.
func runtimeBin(t *testing.T, name string) string {
	t.Helper()
	needPeers(t)
	p := filepath.Join(peersDir, "node_modules", name)
	if _, err := os.Stat(p); err != nil {
		if strings.HasPrefix(name, "opencode-linux-x64") && (runtime.GOOS != "linux" || runtime.GOARCH != "amd64") {
			// test/peers pins OpenCode's linux-x64 binary only (see
			// its package.json).
			t.Skipf("OpenCode's binary is pinned for linux-x64 only, not %s-%s", runtime.GOOS, runtime.GOARCH)
		}
		t.Fatalf("%s is not installed in test/peers: run `make peers`", name)
	}
	return p
}

// TestRuntimes runs each runtime twice on one ICA_HOME: with a cold tool
// cache, then a warm one.
func TestRuntimes(t *testing.T) {
	t.Parallel()
	needPeers(t)
	for _, rc := range runtimeCases {
		t.Run(rc.client, func(t *testing.T) {
			bin := runtimeBin(t, rc.bin)
			outbound := startOutboundTrap(t)
			fake, err := modelapi.Start(modelapi.Script{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = fake.Close() })
			r := &runtimeRun{e: newEnv(t), home: t.TempDir(), fake: fake,
				marker: "ICA_RUNTIME_TEST=" + strconv.FormatInt(time.Now().UnixNano(), 36)}
			r.project = r.e.project
			k, v, _ := strings.Cut(r.marker, "=")
			// The runtime runs the proxy and upstreams built as users
			// build them (plainBinDir): the race detector triples the
			// proxy's start, and the runtimes give it half a second.
			plainDemo := filepath.Join(plainBinDir, "ica-demo-upstream")
			long := map[string]any{"command": plainDemo}
			long["env"] = map[string]any{k: v, "ICA_DEMO_NAME_SUFFIX": longSuffix}
			everything := everythingServer()
			everything["env"] = map[string]any{k: v}
			slow := map[string]any{"command": "sh", "args": []string{"-c", fmt.Sprintf("sleep %g; exec %s", slowStart.Seconds(), plainDemo)},
				"env": map[string]any{k: v, "ICA_DEMO_EXTRA_TOOLS": strconv.Itoa(slowExtra)}}
			r.e.writeHome(t, map[string]any{longServer: long, "everything": everything, "slow": slow})

			renv := rc.configure(t, r)
			r.e.set(append([]string{"HOME=" + r.home}, renv...)...)
			reg := r.e.command("register", rc.client, "--write")
			reg.Path, reg.Args[0] = filepath.Join(plainBinDir, "ica-mcp-proxy"), filepath.Join(plainBinDir, "ica-mcp-proxy")
			if out, err := reg.CombinedOutput(); err != nil {
				t.Fatalf("register %s --write: %v\n%s", rc.client, err, out)
			}
			client, _ := register.Lookup(rc.client)
			budget, _ := client.Budget(register.DefaultName)
			// The tool the model calls: the long demo's add, whose name the
			// budget cuts.
			target := mirror.Join(longServer, "add"+longSuffix, client.Separator, budget)
			if len(target) > budget || !strings.Contains(target, "-") {
				t.Fatalf("target %q does not show a cut name within %d", target, budget)
			}
			// As the model sees it, prefix aside (Codex makes dashes "_").
			target = strings.TrimPrefix(client.ExposedName(register.DefaultName, target), client.ExposedName(register.DefaultName, ""))
			fake.SetScript(modelapi.Script{ToolSuffix: target, Args: map[string]any{"a": 19, "b": 23}})

			environ := runtimeEnviron(r.home, outbound.url, renv)
			for _, cache := range []string{"cold", "warm"} {
				t.Run(cache, func(t *testing.T) {
					before := len(fake.Requests())
					ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
					defer cancel()
					cmd := exec.CommandContext(ctx, bin, rc.turn(r, "Please add 19 and 23 with the demo server.")...)
					cmd.Dir, cmd.Env, cmd.Stdin = r.project, environ, nil
					cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
					start := time.Now()
					out, err := cmd.CombinedOutput()
					took := time.Since(start)
					reqs := fake.Requests()[before:]
					report := describe(reqs)
					if err != nil {
						t.Fatalf("%s: %v after %s\n%s\nmodel API saw:\n%s", filepath.Base(rc.bin), err, took, out, report)
					}
					t.Logf("%s %s turn took %s; the model API saw:\n%s", rc.client, cache, took.Round(time.Millisecond), report)
					checkTurn(t, rc, reqs, target, "42", string(out), report)
					checkNoSurvivors(t, r)
				})
			}
			t.Run("health", func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, bin, rc.health...)
				cmd.Dir, cmd.Env = r.project, environ
				cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
				out, err := cmd.CombinedOutput()
				if err != nil || !rc.connected.Match(out) {
					t.Fatalf("%s %s: %v\n%s", filepath.Base(rc.bin), strings.Join(rc.health, " "), err, out)
				}
				t.Logf("%s %s:\n%s", filepath.Base(rc.bin), strings.Join(rc.health, " "), out)
				checkNoSurvivors(t, r)
			})
			// The same runtime with the entry from before name budgets
			// (64, the proxy's default): what breaks without them.
			t.Run("unbudgeted", func(t *testing.T) {
				path := client.ConfigPath(register.Env{Home: r.home, GOOS: "linux", Getenv: lookupIn(renv)})
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				old := regexp.MustCompile(`(ICA_MCP_PROXY_TOOL_NAME_MAX"?\s*[:=]\s*")\d+"`)
				if !old.Match(data) {
					t.Fatalf("no name budget in %s:\n%s", path, data)
				}
				if err := os.WriteFile(path, old.ReplaceAll(data, []byte(`${1}64"`)), 0o600); err != nil {
					t.Fatal(err)
				}
				before := len(fake.Requests())
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, bin, rc.turn(r, "Please add 19 and 23 with the demo server.")...)
				cmd.Dir, cmd.Env = r.project, environ
				cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
				out, err := cmd.CombinedOutput()
				reqs := fake.Requests()[before:]
				report := fmt.Sprintf("exit %v\n%s\nmodel API saw:\n%s", err, lastLines(string(out), 8), describe(reqs))
				refused := false
				for _, q := range reqs {
					refused = refused || q.Refused != ""
				}
				switch {
				case rc.unbudgetedRefused && (!refused || err == nil):
					t.Fatalf("over-long names were not refused, or the runtime did not fail:\n%s", report)
				case !rc.unbudgetedRefused && refused:
					t.Fatalf("the runtime was expected to cope with over-long names:\n%s", report)
				}
				t.Log(report)
				checkNoSurvivors(t, r)
			})
			if hosts := outbound.hosts(); len(hosts) > 0 {
				t.Logf("%s tried to leave loopback (refused by the trap proxy): %s", rc.client, strings.Join(hosts, ", "))
			}
		})
	}
}

// checkTurn asserts what the model API saw in one turn: no request
// refused, the proxy's tools (the target among them) in the first request
// that offered tools, the call made, and its result, the upstream's own,
// sent back and printed by the runtime.
func checkTurn(t *testing.T, rc runtimeCase, reqs []modelapi.Request, target, want, out, report string) {
	t.Helper()
	var first *modelapi.Request
	called, answered := false, false
	for i := range reqs {
		q := &reqs[i]
		if q.Refused != "" {
			t.Fatalf("the model API refused a request, as %s would: %s\n%s", q.API, q.Refused, report)
		}
		if q.API != rc.api && q.API != "unknown" {
			t.Errorf("request in the %s format, want %s", q.API, rc.api)
		}
		if first == nil && len(q.Tools) > 0 && q.Answer != "count" {
			first = q
		}
		if strings.HasPrefix(q.Answer, "call ") && strings.HasSuffix(q.Answer, target) {
			called = true
		}
		if strings.Contains(q.ToolResult, want) {
			answered = true
		}
	}
	if first == nil {
		t.Fatalf("no request offered tools\n%s", report)
	}
	proxied := 0
	for _, n := range first.Tools {
		if strings.Contains(n, "proxy__list_servers") || strings.Contains(n, "proxy.list_servers") {
			proxied++
		}
		if strings.HasSuffix(n, target) {
			proxied++
		}
	}
	if proxied != 2 {
		t.Fatalf("the first turn's tools lack the proxy's (a broker tool and %s):\n%v\nthe runtime said:\n%s", target, first.Tools, lastLines(out, 15))
	}
	if !called || !answered {
		t.Fatalf("called %v, result sent back %v (want %q)\n%s", called, answered, want, report)
	}
	if i := strings.Index(out, "The tool answered:"); i < 0 || !strings.Contains(out[i:], want) {
		t.Fatalf("the runtime's answer lacks the upstream's result %q:\n%s", want, out)
	}
	var others []string
	for _, server := range []string{"everything", "slow"} {
		for _, n := range first.Tools {
			if strings.Contains(n, server+"__") || strings.Contains(n, server+".") {
				others = append(others, server)
				break
			}
		}
	}
	t.Logf("first turn: %d tools; besides the broker and %s, the tools of %v", len(first.Tools), longServer, others)
}

// describe lists the requests for a failure or a log: format, model, the
// number of tools, what the model did.
func describe(reqs []modelapi.Request) string {
	var b strings.Builder
	for _, q := range reqs {
		fmt.Fprintf(&b, "  %s %s model=%s tools=%d", q.API, q.Path, q.Model, len(q.Tools))
		if q.Refused != "" {
			fmt.Fprintf(&b, " REFUSED: %s", q.Refused)
		}
		if q.Answer != "" {
			fmt.Fprintf(&b, " → %s", q.Answer)
		}
		b.WriteString("\n")
		var proxied []string
		for _, n := range q.Tools {
			if strings.Contains(n, register.DefaultName) || strings.Contains(n, "ica_mcp_proxy") {
				proxied = append(proxied, n)
			}
		}
		if len(proxied) > 0 {
			fmt.Fprintf(&b, "    proxied: %s\n", strings.Join(proxied, " "))
		}
	}
	return b.String()
}

// runtimeEnviron is a runtime's whole environment: PATH (node for the
// npm peers), the scratch HOME, the runtime's own variables, and every
// proxy variable pointed at a trap, so that nothing can leave loopback
// unseen; the fake API on 127.0.0.1 is reached directly.
func runtimeEnviron(home, trap string, own []string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "USER=tester", "LANG=C.UTF-8", "TERM=dumb", "CI=1",
		"TMPDIR=" + os.TempDir(),
		"HTTP_PROXY=" + trap, "HTTPS_PROXY=" + trap, "ALL_PROXY=" + trap,
		"http_proxy=" + trap, "https_proxy=" + trap, "all_proxy=" + trap,
		"NO_PROXY=127.0.0.1,localhost,::1", "no_proxy=127.0.0.1,localhost,::1",
		"NO_COLOR=1",
	}
	return append(env, own...)
}

// checkNoSurvivors waits until no process carries the run's marker (the
// upstreams) or its ICA_HOME (the proxy and its plugins).
func checkNoSurvivors(t *testing.T, r *runtimeRun) {
	t.Helper()
	home := "ICA_HOME=" + r.e.home
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := processesWithEnv(r.marker, home)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, p := range left {
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
			}
			t.Fatalf("still running 5 s after the runtime exited: %+v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processesWithEnv lists the live processes whose environment holds any
// of the given NAME=value entries.
func processesWithEnv(kvs ...string) []proc {
	var out []proc
	for pid, p := range readProcs() {
		if p.state == 'Z' || pid == os.Getpid() {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(data), "\x00") {
			if slices.Contains(kvs, kv) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// outboundTrap is an HTTP proxy on loopback that refuses everything and
// records where it was asked to go.
type outboundTrap struct {
	url  string
	mu   sync.Mutex
	seen map[string]bool
}

func startOutboundTrap(t *testing.T) *outboundTrap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &outboundTrap{url: "http://" + ln.Addr().String(), seen: map[string]bool{}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go o.refuse(c)
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return o
}

func (o *outboundTrap) refuse(c net.Conn) {
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return
	}
	host := req.Host
	if host == "" && req.URL != nil {
		host = req.URL.Host
	}
	o.mu.Lock()
	o.seen[host] = true
	o.mu.Unlock()
	_, _ = c.Write([]byte("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
}

func (o *outboundTrap) hosts() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for h := range o.seen {
		out = append(out, h)
	}
	return out
}
