// Command bench measures what the proxy adds to a tool call, how fast it
// starts and how much memory it uses, and prints one Markdown table:
//
//	go run ./test/bench -bin ./bin
//
// The same Go demo upstream is called directly and through the proxy, with
// the same raw JSON-RPC client, at concurrency 1 and 8. A second table does
// the same for streamable HTTP upstreams, beside mcp-remote.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	bin := flag.String("bin", "bin", "folder with ica-mcp-proxy, the plugins and ica-demo-upstream")
	calls := flag.Int("calls", 20000, "calls per measurement")
	starts := flag.Int("starts", 10, "cold starts to time")
	peers := flag.String("peers", "test/peers", "folder with the npm peers; server-everything is measured too when installed")
	only := flag.String("only", "", "\"stdio\": only the stdio table; \"remote\": only the HTTP table; \"large\": only the elicitation, start-up and large tool set tables; \"footprint\": only the memory, size and lazy start table; \"sessions\": only the sessions table (a proxy per session, and the hub)")
	flag.StringVar(&profileDir, "profile", "", "folder to write CPU profiles of the core into: 6 s of calls at concurrency 8 after each proxied stdio measurement (read with go tool pprof)")
	flag.Parse()
	if *only == "footprint" {
		abs, _ := filepath.Abs(*bin)
		peersAbs, _ := filepath.Abs(*peers)
		if err := runFootprintOnly(abs, peersAbs, *starts); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *only == "remote" {
		abs, _ := filepath.Abs(*bin)
		peersAbs, _ := filepath.Abs(*peers)
		home, err := os.MkdirTemp("", "ica-bench-")
		if err == nil {
			defer func() { _ = os.RemoveAll(home) }()
			var res []remoteResult
			env := append(os.Environ(), "ICA_HOME="+filepath.Join(home, "ica"), "ICA_LOG_LEVEL=warn")
			if res, err = runRemote(abs, peersAbs, home, env, *calls); err == nil {
				printRemote(res)
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *only == "sessions" {
		if err := sessionsTable(*bin, *peers, *calls); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *only == "large" {
		abs, _ := filepath.Abs(*bin)
		if err := runLargeOnly(abs, *peers, *starts); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*bin, *peers, *calls, *starts, *only == "stdio"); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if *only == "" {
		if err := sessionsTable(*bin, *peers, *calls); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

// profileDir, when set, receives a CPU profile of the core per proxied
// stdio measurement (-profile).
var profileDir string

type measure struct {
	p50, p99 time.Duration
	perSec   float64
	// cpu is the CPU time per call spent in each process watched.
	cpu []time.Duration
	lat []time.Duration // every call's, sorted

}

// upstreamKind is one upstream measured directly and through the proxy.
type upstreamKind struct {
	label   string
	server  string // name in .mcp.json
	command []string
	tool    string
	args    string
	expect  string
}

// The ways an upstream is reached in the stdio table.
const (
	sideDirect       = iota // the client runs the upstream
	sideDirectModern        // the same, each call in 2026-07-28 (as the proxy speaks to an upstream that can)
	sideRelay               // through a minimal byte relay, the floor of any stdio proxy
	sideProxied             // through the proxy, messages on the direct data path
	sideStream              // through the proxy, messages on the plugin's gRPC stream
	sides
)

func run(bin, peers string, calls, starts int, stdioOnly bool) error {
	bin, _ = filepath.Abs(bin)
	peers, _ = filepath.Abs(peers)
	kinds := []upstreamKind{{
		label: "Go demo upstream", server: "demo", command: []string{filepath.Join(bin, "ica-demo-upstream")},
		tool: "echo", args: `{"message":"hello from the benchmark"}`, expect: "hello from the benchmark",
	}}
	everything := filepath.Join(peers, "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js")
	if _, err := os.Stat(everything); err == nil {
		kinds = append(kinds, upstreamKind{
			label: "server-everything (Node)", server: "everything", command: []string{"node", everything, "stdio"},
			tool: "echo", args: `{"message":"hello from the benchmark"}`, expect: "hello from the benchmark",
		})
	}
	home, err := os.MkdirTemp("", "ica-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(home) }()
	project := filepath.Join(home, "project")
	if err := os.MkdirAll(project, 0o755); err != nil {
		return err
	}
	env := append(os.Environ(), "ICA_HOME="+filepath.Join(home, "ica"), "ICA_LOG_LEVEL=warn")
	install := exec.Command(filepath.Join(bin, "ica-mcp-proxy"), "plugins", "install")
	install.Env = env
	if out, err := install.CombinedOutput(); err != nil {
		return fmt.Errorf("plugins install: %v: %s", err, out)
	}
	servers := map[string]any{}
	for _, k := range kinds {
		servers[k.server] = map[string]any{"command": k.command[0], "args": k.command[1:]}
	}
	cfg, _ := json.Marshal(map[string]any{"mcpServers": servers})
	if err := os.WriteFile(filepath.Join(project, ".mcp.json"), cfg, 0o600); err != nil {
		return err
	}
	proxied := func() (*client, error) {
		return start(exec.Command(filepath.Join(bin, "ica-mcp-proxy")), env, project)
	}
	relay := filepath.Join(home, "relay")
	if out, err := exec.Command("go", "build", "-o", relay, "./test/bench/relay").CombinedOutput(); err != nil {
		return fmt.Errorf("build the relay: %v: %s", err, out)
	}

	// results[kind][side][concurrency 1/8]
	results := make([][sides][2]measure, len(kinds))
	var rssCore, rssPlugin int
	for i, k := range kinds {
		// Every side runs at once, idle but for its turn, and the calls are
		// measured in rounds, each side in turn, the order turning too: a
		// busy spell of the machine then lands on all sides alike, not on
		// whichever ran at that minute.
		type sideRun struct {
			c      *client
			params string
			watch  []int
		}
		var runs [sides]sideRun
		closeAll := func() {
			for _, r := range runs {
				if r.c != nil {
					r.c.close()
				}
			}
		}
		for side := range sides {
			var c *client
			var err error
			name := k.tool
			switch side {
			case sideDirect, sideDirectModern:
				c, err = start(exec.Command(k.command[0], k.command[1:]...), env, "")
			case sideRelay:
				c, err = start(exec.Command(relay, k.command...), env, "")
			case sideProxied:
				c, err = start(exec.Command(filepath.Join(bin, "ica-mcp-proxy")), append(slices.Clone(env), debugEnv(k.server)...), project)
				name = k.server + "." + k.tool
			case sideStream:
				c, err = start(exec.Command(filepath.Join(bin, "ica-mcp-proxy")), append(slices.Clone(env), append(debugEnv(k.server+"-stream"), "ICA_MCP_PROXY_DATA_PATH=stream")...), project)
				name = k.server + "." + k.tool
			}
			if err != nil {
				closeAll()
				return fmt.Errorf("%s: %w", k.label, err)
			}
			runs[side].c = c
			if _, err := c.call("tools/list", `{}`); err != nil {
				closeAll()
				return err
			}
			params := fmt.Sprintf(`{"name":%q,"arguments":%s}`, name, k.args)
			if side == sideDirectModern {
				params = fmt.Sprintf(`{"name":%q,"arguments":%s,"_meta":%s}`, name, k.args, modernMeta)
			}
			if _, err := load(c, params, k.expect, 1, calls/5, nil); err != nil { // warm up
				closeAll()
				return err
			}
			// Watched for CPU: the upstream when direct, the relay, the
			// core and the plugin when proxied.
			watch := []int{c.cmd.Process.Pid}
			if side >= sideProxied {
				watch = append(watch, descendantNamed(c.cmd.Process.Pid, "ica-plugin-tran"))
			}
			runs[side].params, runs[side].watch = params, watch
		}
		for j, conc := range []int{1, 8} {
			var parts [sides][]measure
			for round := range rounds {
				for turn := range sides {
					side := (turn + round) % sides
					r := runs[side]
					m, err := load(r.c, r.params, k.expect, conc, calls/rounds, r.watch)
					if err != nil {
						closeAll()
						return err
					}
					parts[side] = append(parts[side], m)
				}
			}
			for side := range sides {
				results[i][side][j] = combine(parts[side])
			}
		}
		for side := sideProxied; side < sides; side++ {
			if profileDir == "" {
				break
			}
			label := k.server
			if side == sideStream {
				label += "-stream"
			}
			if err := profile(runs[side].c, runs[side].params, k.expect, debugAddrs[label], filepath.Join(profileDir, label+".pprof")); err != nil {
				closeAll()
				return fmt.Errorf("profile %s: %w", label, err)
			}
		}
		if i == len(kinds)-1 {
			pid := runs[sideProxied].c.cmd.Process.Pid
			rssCore = rssKiB(pid)
			rssPlugin = rssKiB(descendantNamed(pid, "ica-plugin-tran"))
		}
		closeAll()
	}

	if stdioOnly {
		printStdio(kinds, results, calls)
		return nil
	}
	var initT, listT []time.Duration
	for range starts {
		// Cold: without the tool cache the last start left.
		_ = os.Remove(filepath.Join(home, "ica", "mcp-tool-cache.json"))
		t0 := time.Now()
		c, err := proxied()
		if err != nil {
			return err
		}
		initT = append(initT, time.Since(t0))
		res, err := c.call("tools/list", `{}`)
		if err != nil {
			return err
		}
		if !bytes.Contains(res, []byte(`"`+kinds[0].server+"."+kinds[0].tool+`"`)) {
			return fmt.Errorf("tools/list lacks the mirrored tools: %.200s", res)
		}
		listT = append(listT, time.Since(t0))
		c.close()
	}

	printStdio(kinds, results, calls)
	fmt.Printf("| cold start: spawn → initialize answered (median of %d) | all | | %s | | ≤ 50 ms |\n", starts, ms(median(initT)))
	fmt.Printf("| cold start: spawn → tools/list with mirrored tools (median) | all | | %s | | |\n", ms(median(listT)))
	fmt.Printf("| RSS after the load: core | all | | %.1f MiB | | |\n", float64(rssCore)/1024)
	fmt.Printf("| RSS after the load: stdio plugin | all | | %.1f MiB | | |\n", float64(rssPlugin)/1024)
	if err := runElicitation(bin, home, peers, 200); err != nil {
		return fmt.Errorf("elicitation: %w", err)
	}

	remote, err := runRemote(bin, peers, home, env, calls)
	if err != nil {
		return fmt.Errorf("remote upstreams: %w", err)
	}
	printRemote(remote)
	if err := runLarge(bin, home, starts); err != nil {
		return err
	}
	f, err := runFootprint(bin, peers, home, starts)
	if err != nil {
		return fmt.Errorf("footprint: %w", err)
	}
	printFootprint(f)
	return nil
}

func runFootprintOnly(bin, peers string, starts int) error {
	home, err := os.MkdirTemp("", "ica-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(home) }()
	f, err := runFootprint(bin, peers, home, starts)
	if err != nil {
		return err
	}
	printFootprint(f)
	return nil
}

// rounds is how many turns each side of the stdio table takes per
// concurrency.
const rounds = 5

// load runs n calls from conc goroutines and measures each.
func load(c caller, params, expect string, conc, n int, watch []int) (measure, error) {
	lat := make([]time.Duration, n)
	cpu0 := make([]time.Duration, len(watch))
	for i, pid := range watch {
		cpu0[i] = cpuTime(pid)
	}
	var wg sync.WaitGroup
	errs := make(chan error, conc)
	t0 := time.Now()
	for w := range conc {
		wg.Go(func() {
			for i := w; i < n; i += conc {
				s := time.Now()
				res, err := c.call("tools/call", params)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Contains(res, []byte(expect)) {
					errs <- fmt.Errorf("unexpected result %.200s", res)
					return
				}
				lat[i] = time.Since(s)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(t0)
	close(errs)
	if err := <-errs; err != nil {
		return measure{}, err
	}
	slices.Sort(lat)
	m := measure{p50: lat[n/2], p99: lat[n*99/100], perSec: float64(n) / elapsed.Seconds(), lat: lat}
	for i, pid := range watch {
		m.cpu = append(m.cpu, (cpuTime(pid)-cpu0[i])/time.Duration(n))
	}
	return m, nil
}

// combine makes one measure of a side's rounds: the latencies of all its
// calls, the median round's throughput, the mean CPU per call.
func combine(parts []measure) measure {
	var all []time.Duration
	var rates []float64
	cpu := make([]time.Duration, len(parts[0].cpu))
	for _, p := range parts {
		all = append(all, p.lat...)
		rates = append(rates, p.perSec)
		for i, c := range p.cpu {
			cpu[i] += c / time.Duration(len(parts))
		}
	}
	slices.Sort(all)
	slices.Sort(rates)
	n := len(all)
	return measure{p50: all[n/2], p99: all[n*99/100], perSec: rates[len(rates)/2], cpu: cpu}
}

func us(d time.Duration) string {
	return fmt.Sprintf("%.0f µs", float64(d.Nanoseconds())/1000)
}

func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "model name") {
			if _, v, ok := strings.Cut(line, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown CPU"
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.3f ms", float64(d.Microseconds())/1000)
}

func runLargeOnly(bin, peers string, starts int) error {
	home, err := os.MkdirTemp("", "ica-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(home) }()
	if err := runElicitation(bin, home, peers, 200); err != nil {
		return fmt.Errorf("elicitation: %w", err)
	}
	return runLarge(bin, home, starts)
}

// runLarge measures start-up and the large fleet, and prints their table.
func runLarge(bin, scratch string, starts int) error {
	var st [2]startup
	for i, modern := range []bool{false, true} {
		cold, warm, err := runStartup(bin, scratch, starts, modern)
		if err != nil {
			return fmt.Errorf("start-up: %w", err)
		}
		st[i] = startup{cold, warm}
	}
	fleet, err := runFleet(bin, scratch)
	if err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	printLarge(st, fleet)
	return nil
}

// printStdio prints the stdio table: each upstream reached directly,
// through the minimal relay, and through the proxy on both data paths.
func printStdio(kinds []upstreamKind, results [][sides][2]measure, calls int) {
	fmt.Printf("machine: %s, %d cores, %s %s/%s; %d calls per measure, in %d rounds taken in turn by the sides (throughput: the median round)\n\n", cpuModel(), runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, calls, rounds)
	fmt.Println("| measure | upstream | direct | direct, 2026-07-28 | relay | proxied | proxied, messages on gRPC | target |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for i, k := range kinds {
		r := results[i]
		d := r[sideDirect]
		row := func(measure, target string, cell func(side int) string) {
			fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", measure, k.label, cell(sideDirect), cell(sideDirectModern), cell(sideRelay), cell(sideProxied), cell(sideStream), target)
		}
		plus := func(c int) func(int) string {
			return func(side int) string {
				if side == sideDirect {
					return ms(d[c].p50)
				}
				return fmt.Sprintf("%s (+%s)", ms(r[side][c].p50), ms(r[side][c].p50-d[c].p50))
			}
		}
		row("tools/call p50, concurrency 1", "proxied ≤ direct + 0.1 ms", plus(0))
		row("tools/call p99, concurrency 1", "", func(side int) string { return ms(r[side][0].p99) })
		row("tools/call p50, concurrency 8", "", plus(1))
		row("throughput, concurrency 8", "proxied ≥ 75% of direct, ≥ 85% of the relay", func(side int) string {
			if side == sideDirect {
				return fmt.Sprintf("%.0f/s", d[1].perSec)
			}
			return fmt.Sprintf("%.0f/s (%.0f%%)", r[side][1].perSec, 100*r[side][1].perSec/d[1].perSec)
		})
		row("CPU per call, concurrency 8: upstream / relay / core + plugin", "", func(side int) string {
			m := r[side][1]
			if side >= sideProxied {
				return us(m.cpu[0]) + " + " + us(m.cpu[1])
			}
			return us(m.cpu[0])
		})
		p, rl := r[sideProxied][1].perSec, r[sideRelay][1].perSec
		fmt.Printf("| proxied throughput at concurrency 8, of the relay's | %s | | | | %.0f%% | %.0f%% | ≥ 85%% |\n", k.label, 100*p/rl, 100*r[sideStream][1].perSec/rl)
	}
}
