package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The footprint section: what the proxy's own processes (the core and its
// plugins, which are hard links to one executable) hold in memory after
// calls over stdio and HTTP, counted as PSS so that shared pages count
// once; the executable's size; and what lazy start costs the first call
// and saves in processes.

// footprintSettle is how long after the calls the memory is measured.
const footprintSettle = 5 * time.Second

type footprint struct {
	binBytes int64
	// pss and rss are per process of the proxy's own, by label.
	procs []procMem
	// first call after spawn, warm tool cache, median; and upstream
	// processes running a second after it.
	lazy, eager           [2]time.Duration // [Go demo, Node]
	lazyProcs, eagerProcs int
	// calls are the 2000 calls over stdio and over HTTP, concurrency 8,
	// with the CPU time of the core and of the transport's plugin.
	calls   [2]measure
	servers int
	node    bool
}

type procMem struct {
	label                string
	pss, anon, file, rss int // KiB
}

func memOf(label string, pid int) procMem {
	m := procMem{label: label, rss: rssKiB(pid)}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "Pss:":
			m.pss = n
		case "Pss_Anon:":
			m.anon = n
		case "Pss_File:":
			m.file = n
		}
	}
	return m
}

// pluginName is a plugin process's file name (its comm is cut to 15
// characters).
func pluginName(pid int) string {
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	name, _, _ := strings.Cut(string(cmdline), "\x00")
	return filepath.Base(name)
}

func runFootprint(bin, peers, parent string, starts int) (footprint, error) {
	var f footprint
	fi, err := os.Stat(filepath.Join(bin, "ica-mcp-proxy"))
	if err != nil {
		return f, err
	}
	f.binBytes = fi.Size()
	demo := filepath.Join(bin, "ica-demo-upstream")

	// Memory, after 2000 calls over each transport.
	port, err := freePort()
	if err != nil {
		return f, err
	}
	web, err := startRemote("demo (HTTP)", port, "/mcp", demo, "-http", "127.0.0.1:"+port)
	if err != nil {
		return f, err
	}
	defer web.stop()
	s, err := newScratch(bin, parent, map[string]any{
		"local": map[string]any{"command": demo},
		"web":   map[string]any{"type": "http", "url": web.url},
	})
	if err != nil {
		return f, err
	}
	c, err := s.listed(bin)
	if err != nil {
		return f, err
	}
	core := c.cmd.Process.Pid
	for i, server := range []string{"local", "web"} {
		plugin := "ica-plugin-transport-stdio"
		if server == "web" {
			plugin = "ica-plugin-transport-http"
		}
		watch := []int{core}
		for _, p := range processTree(core) {
			if strings.HasPrefix(p.comm, "ica-plugin-") && pluginName(p.pid) == plugin {
				watch = append(watch, p.pid)
			}
		}
		params := fmt.Sprintf(`{"name":"%s.echo","arguments":{"message":"footprint"}}`, server)
		m, err := load(c, params, "footprint", 8, 2000, watch)
		if err != nil {
			c.close()
			return f, fmt.Errorf("%s: %w", server, err)
		}
		f.calls[i] = m
	}
	// Memory the runtimes no longer use goes back to the system within
	// seconds (the Go scavenger); what stays is the footprint.
	time.Sleep(footprintSettle)
	f.procs = append(f.procs, memOf("core", core))
	for _, p := range processTree(core) {
		if strings.HasPrefix(p.comm, "ica-plugin-") {
			f.procs = append(f.procs, memOf(pluginName(p.pid), p.pid))
		}
	}
	c.close()

	// Lazy and eager start: five servers, one called; the tool cache warm.
	f.servers = 5
	everything := filepath.Join(peers, "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js")
	_, err = os.Stat(everything)
	f.node = err == nil
	called := []map[string]any{{"command": demo}, {"command": "node", "args": []string{everything, "stdio"}}}
	for i, target := range called {
		if i == 1 && !f.node {
			break
		}
		servers := map[string]any{"target": target}
		for j := 1; j < f.servers; j++ {
			servers["idle"+strconv.Itoa(j)] = map[string]any{"command": demo}
		}
		for _, mode := range []string{"lazy", "eager"} {
			s, err := newScratch(bin, parent, servers, "ICA_MCP_PROXY_START="+mode)
			if err != nil {
				return f, err
			}
			// The first start fills the tool cache.
			c, err := s.listed(bin)
			if err != nil {
				return f, err
			}
			time.Sleep(time.Second)
			c.close()
			var ts []time.Duration
			procs := 0
			for range starts {
				t0 := time.Now()
				c, err := s.proxy(bin)
				if err != nil {
					return f, err
				}
				res, err := c.call("tools/call", `{"name":"target.echo","arguments":{"message":"first"}}`)
				ts = append(ts, time.Since(t0))
				if err == nil && !strings.Contains(string(res), "first") {
					err = fmt.Errorf("target.echo: %.200s", res)
				}
				time.Sleep(time.Second)
				procs = 0
				for _, p := range processTree(c.cmd.Process.Pid) {
					if p.comm == "ica-demo-upstre" || p.comm == "node" {
						procs++
					}
				}
				c.close()
				if err != nil {
					return f, err
				}
			}
			if mode == "lazy" {
				f.lazy[i], f.lazyProcs = median(ts), procs
			} else {
				f.eager[i], f.eagerProcs = median(ts), procs
			}
		}
	}
	return f, nil
}

func printFootprint(f footprint) {
	fmt.Println()
	fmt.Println("| footprint | value | target |")
	fmt.Println("|---|---|---|")
	fmt.Printf("| size of ica-mcp-proxy (the core and every bundled plugin) | %.1f MB | |\n", float64(f.binBytes)/1e6)
	var sum procMem
	mib := func(kib int) float64 { return float64(kib) / 1024 }
	for _, p := range f.procs {
		fmt.Printf("| after 2000 calls each over stdio and HTTP: %s | %.1f MiB PSS (anon %.1f + file %.1f; RSS %.1f) | |\n", p.label, mib(p.pss), mib(p.anon), mib(p.file), mib(p.rss))
		sum.pss += p.pss
		sum.anon += p.anon
		sum.file += p.file
		sum.rss += p.rss
	}
	fmt.Printf("| the same, in total (%d processes) | %.1f MiB PSS (anon %.1f + file %.1f; RSS %.1f) | ≤ 35 MiB PSS |\n", len(f.procs), mib(sum.pss), mib(sum.anon), mib(sum.file), mib(sum.rss))
	for i, t := range []string{"stdio", "HTTP"} {
		m := f.calls[i]
		cpu := "n/a"
		if len(m.cpu) == 2 {
			cpu = us(m.cpu[0]) + " + " + us(m.cpu[1])
		}
		fmt.Printf("| those calls over %s, concurrency 8: p50 / CPU per call, core + plugin | %s / %s | |\n", t, ms(m.p50), cpu)
	}
	labels := []string{"Go demo", "server-everything (Node)"}
	for i := range labels {
		if i == 1 && !f.node {
			break
		}
		fmt.Printf("| spawn → first call answered, warm tool cache, %s: lazy / eager (median) | %s / %s | |\n", labels[i], ms(f.lazy[i]), ms(f.eager[i]))
	}
	fmt.Printf("| upstream processes 1 s after that call, %d servers configured: lazy / eager | %d / %d | lazy: 1 |\n", f.servers, f.lazyProcs, f.eagerProcs)
}

type proc struct {
	pid  int
	comm string
}

// processTree lists pid's descendants.
func processTree(pid int) []proc {
	children := map[int][]proc{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(data)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < 0 || close+2 > len(s) {
			continue
		}
		fields := strings.Fields(s[close+2:])
		if len(fields) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		n, _ := strconv.Atoi(e.Name())
		children[ppid] = append(children[ppid], proc{n, s[open+1 : close]})
	}
	var out []proc
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c.pid)
		}
	}
	return out
}

// listed starts a proxy in s and lists its tools.
func (s *scratch) listed(bin string) (*client, error) {
	c, err := s.proxy(bin)
	if err != nil {
		return nil, err
	}
	if _, err := c.call("tools/list", `{}`); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}
