package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// scratch is a fresh ICA_HOME with the plugins installed and a project
// whose .mcp.json holds servers.
type scratch struct {
	home, project string
	env           []string
}

func newScratch(bin, parent string, servers map[string]any, extraEnv ...string) (*scratch, error) {
	dir, err := os.MkdirTemp(parent, "scratch-")
	if err != nil {
		return nil, err
	}
	s := &scratch{home: filepath.Join(dir, "ica"), project: filepath.Join(dir, "project")}
	if err := os.MkdirAll(s.project, 0o755); err != nil {
		return nil, err
	}
	s.env = append(append(os.Environ(), "ICA_HOME="+s.home, "ICA_LOG_LEVEL=warn"), extraEnv...)
	install := exec.Command(filepath.Join(bin, "ica-mcp-proxy"), "plugins", "install")
	install.Env = s.env
	if out, err := install.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("plugins install: %v: %s", err, out)
	}
	cfg, _ := json.Marshal(map[string]any{"mcpServers": servers})
	return s, os.WriteFile(filepath.Join(s.project, ".mcp.json"), cfg, 0o600)
}

func (s *scratch) proxy(bin string) (*client, error) {
	return start(exec.Command(filepath.Join(bin, "ica-mcp-proxy")), s.env, s.project)
}

// startup is the time from spawn to a complete tools/list.
type startup struct{ cold, warm time.Duration }

// runStartup times spawn → a tools/list holding every server's tools, with
// 5 stdio upstreams of which one takes 1.5 s to start: with the tool cache
// cold (deleted before each start) and warm; for a client of 2025-11-25
// (initialize first) or, modern, of 2026-07-28 (tools/list is its first
// request).
func runStartup(bin, parent string, starts int, modern bool) (cold, warm time.Duration, err error) {
	demo := filepath.Join(bin, "ica-demo-upstream")
	servers := map[string]any{"slow": map[string]any{"command": "sh", "args": []string{"-c", "sleep 1.5; exec " + demo}}}
	for i := 1; i <= 4; i++ {
		servers["s"+strconv.Itoa(i)] = map[string]any{"command": demo}
	}
	s, err := newScratch(bin, parent, servers)
	if err != nil {
		return 0, 0, err
	}
	complete := func(list []byte) bool {
		for name := range servers {
			if !bytes.Contains(list, []byte(`"`+name+`.echo"`)) {
				return false
			}
		}
		return true
	}
	measure := func(clearCache bool) (time.Duration, error) {
		var ts []time.Duration
		for range starts {
			if clearCache {
				_ = os.Remove(filepath.Join(s.home, "mcp-tool-cache.json"))
			}
			t0 := time.Now()
			var c *client
			params := `{}`
			if modern {
				c, err = spawn(exec.Command(filepath.Join(bin, "ica-mcp-proxy")), s.env, s.project)
				params = `{"_meta":` + modernMeta + `}`
			} else {
				c, err = s.proxy(bin)
			}
			if err != nil {
				return 0, err
			}
			list, err := c.call("tools/list", params)
			took := time.Since(t0)
			if err == nil && !complete(list) {
				err = fmt.Errorf("tools/list is not complete: %.300s", list)
			}
			if !clearCache {
				// Let the servers answer, so the next start is as warm.
				time.Sleep(1800 * time.Millisecond)
			}
			c.close()
			if err != nil {
				return 0, err
			}
			ts = append(ts, took)
		}
		return median(ts), nil
	}
	if cold, err = measure(true); err != nil {
		return 0, 0, err
	}
	warm, err = measure(false)
	return cold, warm, err
}

type fleetResult struct {
	servers, each       int
	listP50             time.Duration
	listBytes, mirrored int
	searchP50           time.Duration
	searched            int
	rssMiB              float64
}

// runFleet starts 25 servers of 200 tools each and measures tools/list,
// proxy.search_tools and the core's memory.
func runFleet(bin, parent string) (fleetResult, error) {
	r := fleetResult{servers: 25, each: 200}
	servers := map[string]any{}
	for i := range r.servers {
		// Lists fresh for 5 minutes, as the tool cache keeps them by
		// default: what is measured is serving them, not listing them
		// again (a server that says ttlMs 0 is listed again, at most once
		// a second, while the client lists).
		servers[fmt.Sprintf("fleet%02d", i)] = map[string]any{"command": filepath.Join(bin, "ica-demo-upstream"),
			"env": map[string]any{"ICA_DEMO_EXTRA_TOOLS": strconv.Itoa(r.each - 3), "ICA_DEMO_TTL_MS": "300000"}}
	}
	s, err := newScratch(bin, parent, servers, "ICA_MCP_PROXY_LIST_WAIT_S=60")
	if err != nil {
		return r, err
	}
	c, err := s.proxy(bin)
	if err != nil {
		return r, err
	}
	defer c.close()
	var lists []time.Duration
	for i := range 21 {
		t0 := time.Now()
		list, err := c.call("tools/list", `{}`)
		if err != nil {
			return r, err
		}
		if i > 0 { // the first waits for the servers to start
			lists = append(lists, time.Since(t0))
		}
		r.listBytes = len(list)
		r.mirrored = bytes.Count(list, []byte(`"inputSchema"`))
	}
	r.listP50 = median(lists)
	var searches []time.Duration
	for i := range 51 {
		t0 := time.Now()
		res, err := c.call("tools/call", `{"name":"proxy.search_tools","arguments":{"query":"create an issue in the tracker for a user","limit":10}}`)
		if err != nil {
			return r, err
		}
		if i > 0 { // the first builds the index
			searches = append(searches, time.Since(t0))
		}
		var out struct {
			Result struct {
				StructuredContent struct {
					Searched int `json:"searched"`
				} `json:"structuredContent"`
			} `json:"result"`
		}
		if err := json.Unmarshal(res, &out); err != nil || out.Result.StructuredContent.Searched == 0 {
			return r, fmt.Errorf("search: %v %.200s", err, res)
		}
		r.searched = out.Result.StructuredContent.Searched
	}
	r.searchP50 = median(searches)
	r.rssMiB = float64(rssKiB(c.cmd.Process.Pid)) / 1024
	return r, nil
}

// modernMeta is the _meta of a 2026-07-28 request of the bench's.
const modernMeta = `{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":{}},"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"1"}}`

func printLarge(st [2]startup, f fleetResult) {
	fmt.Println()
	fmt.Println("| measure | value | target |")
	fmt.Println("|---|---|---|")
	for i, rev := range []string{"2025-11-25 (initialize, then tools/list)", "2026-07-28 (tools/list first)"} {
		fmt.Printf("| client %s: spawn → complete tools/list, 5 stdio upstreams (one takes 1.5 s to start), tool cache cold | %s | ≤ 1.5 s + 100 ms |\n", rev, ms(st[i].cold))
		fmt.Printf("| client %s: the same, tool cache warm | %s | ≤ 50 ms |\n", rev, ms(st[i].warm))
	}
	fmt.Printf("| fleet of %d servers × %d tools: tools/list p50 (%d mirrored: the total cap) | %s | |\n", f.servers, f.each, f.mirrored-9, ms(f.listP50))
	fmt.Printf("| fleet: tools/list size | %.1f KiB | |\n", float64(f.listBytes)/1024)
	fmt.Printf("| fleet: proxy.search_tools p50 over %d tools (a stdio round trip) | %s | ≤ 5 ms |\n", f.searched, ms(f.searchP50))
	fmt.Printf("| fleet: RSS of the core | %.1f MiB | < 60 MB |\n", f.rssMiB)
}
