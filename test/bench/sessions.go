package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The sessions table: several sessions of one project, each using the
// same stdio servers, with a proxy per session (today's default) and
// through the per-user hub (ICA_MCP_PROXY_HUB=on), side by side.

const (
	benchSessions = 5
	benchServers  = 3
)

// sessionsResult is one way of running the sessions.
type sessionsResult struct {
	label string
	// upstreams is how many server processes run for all the sessions.
	upstreams int
	// pssTotal is the PSS of every process involved (KiB); perSession,
	// that of the process each runtime starts (the proxy, or the front).
	pssTotal, perSession int
	// hubPSS is the hub's own (KiB), 0 without one.
	hubPSS int
	// p50 is a call's median, one session calling, others idle.
	p50 time.Duration
	// firstCall is a new session's spawn → its first call answered,
	// with the other sessions running.
	firstCall time.Duration
}

// sessionsTable measures and prints the sessions table, with at most
// 2000 calls for the p50.
func sessionsTable(bin, peers string, calls int) error {
	bin, _ = filepath.Abs(bin)
	peers, _ = filepath.Abs(peers)
	calls = min(calls, 2000)
	res, err := runSessions(bin, peers, calls)
	if err != nil {
		return err
	}
	printSessions(res, calls)
	return nil
}

func runSessions(bin, peers string, calls int) ([]sessionsResult, error) {
	parent, err := os.MkdirTemp("", "ica-bench-sessions-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(parent) }()
	command := []string{filepath.Join(bin, "ica-demo-upstream")}
	comm, upstreamLabel := "ica-demo-upstre", "Go demo upstream"
	everything := filepath.Join(peers, "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js")
	if _, err := os.Stat(everything); err == nil {
		command, comm, upstreamLabel = []string{"node", everything, "stdio"}, "node", "server-everything (Node)"
	}
	servers := map[string]any{}
	for i := 1; i <= benchServers; i++ {
		servers["s"+strconv.Itoa(i)] = map[string]any{"command": command[0], "args": command[1:]}
	}
	var out []sessionsResult
	for _, way := range []struct{ label, hub string }{
		{"a proxy per session", "off"},
		{"the hub", "on"},
	} {
		s, err := newScratch(bin, parent, servers, "ICA_MCP_PROXY_HUB="+way.hub, "ICA_MCP_PROXY_HUB_LINGER=60")
		if err != nil {
			return nil, err
		}
		r, err := measureSessions(bin, s, comm, calls)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", way.label, err)
		}
		r.label = way.label + ", " + upstreamLabel
		out = append(out, r)
	}
	return out, nil
}

func measureSessions(bin string, s *scratch, comm string, calls int) (sessionsResult, error) {
	var r sessionsResult
	var clients []*client
	defer func() {
		for _, c := range clients {
			c.close()
		}
		if hub := hubPID(s.home); hub != 0 {
			stop := exec.Command(filepath.Join(bin, "ica-mcp-proxy"), "hub", "stop")
			stop.Env = s.env
			_ = stop.Run()
		}
	}()
	callAll := func(c *client) error {
		for i := 1; i <= benchServers; i++ {
			if _, err := c.call("tools/call", `{"name":"s`+strconv.Itoa(i)+`.echo","arguments":{"message":"hi"}}`); err != nil {
				return err
			}
		}
		return nil
	}
	for range benchSessions {
		c, err := s.proxy(bin)
		if err != nil {
			return r, err
		}
		clients = append(clients, c)
		if err := callAll(c); err != nil {
			return r, err
		}
	}
	time.Sleep(time.Second) // let the memory settle (the core trims after a quiet second)
	roots := []int{}
	for _, c := range clients {
		roots = append(roots, c.cmd.Process.Pid)
		r.perSession += memOf("", c.cmd.Process.Pid).pss
	}
	r.perSession /= len(clients)
	hub := hubPID(s.home)
	if hub != 0 {
		roots = append(roots, hub)
		r.hubPSS = memOf("", hub).pss
	}
	seen := map[int]bool{}
	for _, root := range roots {
		for _, p := range append([]proc{{root, ""}}, processTree(root)...) {
			if seen[p.pid] {
				continue
			}
			seen[p.pid] = true
			r.pssTotal += memOf("", p.pid).pss
			if p.comm == comm {
				r.upstreams++
			}
		}
	}
	lat := make([]time.Duration, 0, calls)
	for range calls {
		t0 := time.Now()
		if _, err := clients[0].call("tools/call", `{"name":"s1.echo","arguments":{"message":"hi"}}`); err != nil {
			return r, err
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	r.p50 = lat[len(lat)/2]
	t0 := time.Now()
	c, err := s.proxy(bin)
	if err != nil {
		return r, err
	}
	clients = append(clients, c)
	if _, err := c.call("tools/call", `{"name":"s1.echo","arguments":{"message":"hi"}}`); err != nil {
		return r, err
	}
	r.firstCall = time.Since(t0)
	return r, nil
}

// hubPID is the pid of the hub of home, or 0.
func hubPID(home string) int {
	pids, _ := filepath.Glob(filepath.Join(home, "run", "hub-*.pid"))
	if len(pids) != 1 {
		return 0
	}
	data, _ := os.ReadFile(pids[0])
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

func printSessions(results []sessionsResult, calls int) {
	fmt.Printf("\n### %d sessions of one project, %d stdio servers each\n\n", benchSessions, benchServers)
	fmt.Printf("Each session calls each server once; then one session makes %d calls alone (p50), and a new session is started and calls (first call).\n\n", calls)
	fmt.Println("| | upstream processes | PSS, all processes | PSS per session process | PSS of the hub | p50 call | a new session's first call |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, r := range results {
		hub := "-"
		if r.hubPSS > 0 {
			hub = fmt.Sprintf("%.1f MiB", float64(r.hubPSS)/1024)
		}
		fmt.Printf("| %s | %d | %.1f MiB | %.1f MiB | %s | %s | %s |\n", r.label, r.upstreams,
			float64(r.pssTotal)/1024, float64(r.perSession)/1024, hub, us(r.p50), ms(r.firstCall))
	}
}
