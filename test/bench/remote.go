package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/proctree"
)

// The remote section: the same streamable HTTP server called directly by a
// Go HTTP client, through the proxy, and through mcp-remote (the bridge
// people run today to reach remote servers from stdio-only clients).

// caller is a client the load runs against.
type caller interface {
	call(method, params string) ([]byte, error)
	close()
}

// remoteServer is one streamable HTTP upstream.
type remoteServer struct {
	label string
	url   string
	pid   int
	stop  func()
}

// startRemote runs command (which must listen on port) and waits for it.
func startRemote(label string, port string, path string, command ...string) (*remoteServer, error) {
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Env = append(os.Environ(), "PORT="+port)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	tree, err := proctree.Start(cmd)
	if err != nil {
		return nil, err
	}
	stop := func() {
		_ = tree.Kill()
		_ = cmd.Wait()
		tree.Release()
	}
	addr := "127.0.0.1:" + port
	for range 300 {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			_ = c.Close()
			return &remoteServer{label: label, url: "http://" + addr + path, pid: cmd.Process.Pid, stop: stop}, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return nil, fmt.Errorf("%s did not listen on %s", label, addr)
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

// httpClient is a direct streamable HTTP client: one POST per call on
// kept-alive connections, the answer read from JSON or an event stream.
type httpClient struct {
	url     string
	hc      *http.Client
	session string
	version string
	nextID  atomic.Int64
}

func dialHTTP(url string) (*httpClient, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	c := &httpClient{url: url, hc: &http.Client{Transport: t}}
	res, err := c.call("initialize", `{"protocolVersion":"`+protocolVersion+`","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}`)
	if err != nil {
		return nil, err
	}
	var r struct {
		Result struct {
			ProtocolVersion string `json:"protocolVersion"`
		} `json:"result"`
	}
	_ = json.Unmarshal(res, &r)
	c.version = r.Result.ProtocolVersion
	if _, err := c.post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, ""); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *httpClient) call(method, params string) ([]byte, error) {
	id := strconv.FormatInt(c.nextID.Add(1), 10)
	return c.post(`{"jsonrpc":"2.0","id":`+id+`,"method":"`+method+`","params":`+params+`}`, id)
}

// post sends one message; for a request (id set) it returns the answer.
func (c *httpClient) post(msg, id string) ([]byte, error) {
	req, _ := http.NewRequest(http.MethodPost, c.url, strings.NewReader(msg))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if c.session != "" {
		req.Header.Set("Mcp-Session-Id", c.session)
	}
	if c.version != "" {
		req.Header.Set("MCP-Protocol-Version", c.version)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if s := resp.Header.Get("Mcp-Session-Id"); s != "" && c.session == "" {
		c.session = s
	}
	if id == "" {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		return io.ReadAll(resp.Body)
	}
	want := []byte(`"id":` + id)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if data, ok := bytes.CutPrefix(sc.Bytes(), []byte("data: ")); ok && bytes.Contains(data, want) {
			return bytes.Clone(data), nil
		}
	}
	return nil, fmt.Errorf("the event stream ended without the answer")
}

func (c *httpClient) close() { c.hc.CloseIdleConnections() }

// The ways a remote upstream is reached.
const (
	remoteDirect    = iota // the benchmark's own HTTP client
	remoteProxied          // through the proxy, messages on the direct data path
	remoteMCPRemote        // through mcp-remote
	remoteStream           // through the proxy, messages on the plugin's gRPC stream
	remoteSides
)

// remoteResult is one upstream's measures, each way, at concurrency 1
// and 8.
type remoteResult struct {
	label string
	m     [remoteSides][2]measure
}

// remoteKind says how to run one kind of streamable HTTP upstream.
type remoteKind struct {
	label   string
	command func(port string) []string
}

func runRemote(bin, peers, scratch string, env []string, calls int) ([]remoteResult, error) {
	kinds := []remoteKind{{
		label: "Go demo (HTTP)",
		command: func(port string) []string {
			return []string{filepath.Join(bin, "ica-demo-upstream"), "-http", "127.0.0.1:" + port}
		},
	}}
	everything := filepath.Join(peers, "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js")
	if _, err := os.Stat(everything); err == nil {
		kinds = append(kinds, remoteKind{
			label:   "server-everything (HTTP)",
			command: func(string) []string { return []string{"node", everything, "streamableHttp"} },
		})
	}
	mcpRemote := filepath.Join(peers, "node_modules", "mcp-remote", "dist", "proxy.js")
	_, err := os.Stat(mcpRemote)
	haveMCPRemote := err == nil

	var out []remoteResult
	for _, k := range kinds {
		r := remoteResult{label: k.label}
		// A fresh server for each client, so none inherits the sessions
		// and state another left; all run at once, and the calls are
		// measured in rounds taken in turn (as in the stdio table).
		var ways [remoteSides]*remoteWay
		var servers []*remoteServer
		closeAll := func() {
			for _, w := range ways {
				if w != nil {
					w.c.close()
				}
			}
			for _, s := range servers {
				s.stop()
			}
		}
		for side := range remoteSides {
			if side == remoteMCPRemote && !haveMCPRemote {
				continue
			}
			port, err := freePort()
			if err != nil {
				closeAll()
				return nil, err
			}
			s, err := startRemote(k.label, port, "/mcp", k.command(port)...)
			if err != nil {
				closeAll()
				return nil, err
			}
			servers = append(servers, s)
			if ways[side], err = openRemote(s, side, bin, mcpRemote, scratch, env, calls); err != nil {
				closeAll()
				return nil, fmt.Errorf("%s: %w", k.label, err)
			}
		}
		for j, conc := range []int{1, 8} {
			var parts [remoteSides][]measure
			for round := range rounds {
				for turn := range remoteSides {
					side := (turn + round) % remoteSides
					w := ways[side]
					if w == nil {
						continue
					}
					m, err := load(w.c, w.params, "hello from the benchmark", conc, calls/rounds, w.watch)
					if err != nil {
						closeAll()
						return nil, fmt.Errorf("%s: %w", k.label, err)
					}
					parts[side] = append(parts[side], m)
				}
			}
			for side := range remoteSides {
				if len(parts[side]) > 0 {
					r.m[side][j] = combine(parts[side])
				}
			}
		}
		closeAll()
		out = append(out, r)
	}
	return out, nil
}

// remoteWay is one way of reaching a remote upstream, warmed up.
type remoteWay struct {
	c      caller
	params string
	watch  []int
}

// openRemote connects to s one way (side) and warms the way up.
func openRemote(s *remoteServer, side int, bin, mcpRemote, scratch string, env []string, calls int) (*remoteWay, error) {
	var c caller
	var watch []int
	name := "echo"
	switch side {
	case remoteDirect:
		hc, err := dialHTTP(s.url)
		if err != nil {
			return nil, fmt.Errorf("direct: %w", err)
		}
		c, watch = hc, []int{s.pid}
	case remoteProxied, remoteStream:
		project, err := os.MkdirTemp(scratch, "remote-")
		if err != nil {
			return nil, err
		}
		cfg, _ := json.Marshal(map[string]any{"mcpServers": map[string]any{"remote": map[string]any{"type": "http", "url": s.url}}})
		if err := os.WriteFile(filepath.Join(project, ".mcp.json"), cfg, 0o600); err != nil {
			return nil, err
		}
		penv := env
		if side == remoteStream {
			penv = append(slices.Clone(env), "ICA_MCP_PROXY_DATA_PATH=stream")
		}
		pc, err := start(exec.Command(filepath.Join(bin, "ica-mcp-proxy")), penv, project)
		if err != nil {
			return nil, err
		}
		c, name = pc, "remote.echo"
		watch = []int{pc.cmd.Process.Pid, -1} // and the plugin, once started
	case remoteMCPRemote:
		cmd := exec.Command("node", mcpRemote, s.url, "--allow-http", "--transport", "http-only")
		// mcp-remote logs every message on stderr; that is its normal
		// behaviour, but the bench does not print it.
		mc, err := startQuiet(cmd, append(env, "HOME="+scratch))
		if err != nil {
			return nil, fmt.Errorf("mcp-remote: %w", err)
		}
		c, watch = mc, []int{mc.cmd.Process.Pid}
	}
	params := fmt.Sprintf(`{"name":%q,"arguments":{"message":"hello from the benchmark"}}`, name)
	if _, err := load(c, params, "hello from the benchmark", 1, calls/5, nil); err != nil { // warm up
		c.close()
		return nil, err
	}
	if len(watch) == 2 {
		watch[1] = descendantNamed(watch[0], "ica-plugin-tran")
	}
	return &remoteWay{c: c, params: params, watch: watch}, nil
}

func printRemote(results []remoteResult) {
	fmt.Println()
	fmt.Println("| measure | upstream | direct HTTP | ica-mcp-proxy | ica-mcp-proxy, messages on gRPC | mcp-remote | target |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, r := range results {
		d, p, g, m := r.m[remoteDirect], r.m[remoteProxied], r.m[remoteStream], r.m[remoteMCPRemote]
		fmt.Printf("| tools/call p50, concurrency 1 | %s | %s | %s (+%s) | %s (+%s) | %s | proxy ≤ direct + 0.25 ms, < mcp-remote |\n",
			r.label, ms(d[0].p50), ms(p[0].p50), ms(p[0].p50-d[0].p50), ms(g[0].p50), ms(g[0].p50-d[0].p50), msOrNA(m[0].p50))
		fmt.Printf("| tools/call p99, concurrency 1 | %s | %s | %s | %s | %s | |\n", r.label, ms(d[0].p99), ms(p[0].p99), ms(g[0].p99), msOrNA(m[0].p99))
		fmt.Printf("| tools/call p50, concurrency 8 | %s | %s | %s (+%s) | %s (+%s) | %s | proxy < mcp-remote |\n",
			r.label, ms(d[1].p50), ms(p[1].p50), ms(p[1].p50-d[1].p50), ms(g[1].p50), ms(g[1].p50-d[1].p50), msOrNA(m[1].p50))
		fmt.Printf("| throughput, concurrency 8 | %s | %.0f/s | %.0f/s | %.0f/s | %s | proxy > 3 × mcp-remote |\n",
			r.label, d[1].perSec, p[1].perSec, g[1].perSec, perSecOrNA(m[1].perSec))
		fmt.Printf("| CPU per call, concurrency 8 (server / bridge) | %s | %s | %s | %s | %s | |\n",
			r.label, us(cpuOf(d[1])), us(cpuOf(p[1])), us(cpuOf(g[1])), usOrNA(cpuOf(m[1])))
	}
}

// cpuOf is the CPU per call of every process watched, together.
func cpuOf(m measure) time.Duration {
	var sum time.Duration
	for _, c := range m.cpu {
		sum += c
	}
	return sum
}

// startQuiet is start without the child's stderr.
func startQuiet(cmd *exec.Cmd, env []string) (*client, error) {
	cmd.Stderr = io.Discard
	return start(cmd, env, "")
}

func msOrNA(d time.Duration) string {
	if d == 0 {
		return "n/a"
	}
	return ms(d)
}

func usOrNA(d time.Duration) string {
	if d == 0 {
		return "n/a"
	}
	return us(d)
}

func perSecOrNA(v float64) string {
	if v == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f/s", v)
}

// protocolVersion is what every client in the bench asks for: the newest
// revision with the initialize handshake, which the proxy also speaks to
// its upstreams, so that direct and proxied calls take the same path in
// the server.
const protocolVersion = "2025-11-25"
