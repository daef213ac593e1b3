// Package coretest runs the core in-process for tests: a proxy.Proxy whose
// upstreams are scripted servers (internal/scripted) opened through
// sdktest.Local, and a frontend.Server driven over io.Pipe. The MCP logic
// (the handshake, routing, the revision bridge, guardrails) is tested with
// it without starting a process or opening a socket, so a test may run in
// a testing/synctest bubble, where timeouts and TTLs pass without waiting.
//
//	c := coretest.New(t, coretest.Options{Scripts: map[string]scripted.Script{"up": sc}})
//	cl := c.Serve(t)
//	cl.Send(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{...}}`)
//	res := cl.Wait("1")
package coretest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/broker"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/drift"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/proxy"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/settings"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/toolcache"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/trust"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstreamfacts"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/scripted"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk/sdktest"
)

// Options say what the core serves.
type Options struct {
	// Scripts are the upstream servers, by name: each gets an entry
	// {"command": "scripted"} in $ICA_HOME/mcp-servers.json unless
	// Servers or Project names it.
	Scripts map[string]scripted.Script
	// Servers are entries of mcp-servers.json written as given (for
	// fields such as "timeout" or "start"); a nil entry leaves a script's
	// server out (to be added later).
	Servers map[string]any
	// Env holds ICA_ settings; ICA_HOME is the test's own folder.
	Env map[string]string
	// Project, when set, is written as the project's .mcp.json
	// mcpServers (the project folder is Core.Project).
	Project map[string]any
	// Memo keeps mcp-upstreams.json (what each server speaks and
	// offers) as the proxy does; off, every start probes.
	Memo bool
	// ToolCache keeps the tool cache as the proxy does.
	ToolCache bool
	// Root is the folder holding home and project; a fresh one by
	// default. A second Core with the same Root finds what the first
	// left (trust records, the tool cache, the memo).
	Root string
}

// Core is a proxy over scripted upstreams.
type Core struct {
	Transport *scripted.Transport
	Proxy     *proxy.Proxy
	Broker    *broker.Broker
	Settings  settings.Settings
	Home      string
	Project   string
	log       hclog.Logger
}

// New builds the core; nothing starts until a client's first request (or
// Proxy.Start).
func New(t testing.TB, o Options) *Core {
	t.Helper()
	return build(t, o, scripted.NewTransport(o.Scripts), nil)
}

// build is New over transport, with the upstreams share gives when set.
func build(t testing.TB, o Options, transport *scripted.Transport, share func(*Core) proxy.ShareFunc) *Core {
	t.Helper()
	root := o.Root
	if root == "" {
		root = t.TempDir()
	}
	c := &Core{Home: filepath.Join(root, "home"), Project: filepath.Join(root, "project")}
	for _, d := range []string{c.Home, c.Project} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	servers := map[string]any{}
	for name := range o.Scripts {
		if _, inProject := o.Project[name]; !inProject {
			servers[name] = map[string]any{"command": "scripted"}
		}
	}
	maps.Copy(servers, o.Servers)
	maps.DeleteFunc(servers, func(_ string, v any) bool { return v == nil })
	if len(servers) > 0 {
		writeJSON(t, filepath.Join(c.Home, "mcp-servers.json"), map[string]any{"mcpServers": servers})
	}
	if o.Project != nil {
		writeJSON(t, filepath.Join(c.Project, ".mcp.json"), map[string]any{"mcpServers": o.Project})
	}
	env := map[string]string{settings.EnvHome: c.Home}
	maps.Copy(env, o.Env)
	s, warnings := settings.Load(func(k string) string { return env[k] })
	if len(warnings) > 0 {
		t.Fatalf("settings: %v", warnings)
	}
	c.Settings = s
	c.log = hclog.New(&hclog.LoggerOptions{Name: "core", Level: hclog.Warn, Output: testOutput{t}})
	c.Transport = transport
	opts := proxy.Options{
		Settings:  s,
		Cwd:       c.Project,
		Logger:    c.log.Named("proxy"),
		Version:   "test",
		Opener:    opener{sdktest.Local(c.Transport)},
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Environ:   func() []string { return nil },
		Reserved:  broker.Names(s.Separator),
		Trust:     trust.New(s.Home),
		Drift:     drift.New(s.Home),
	}
	if o.Memo {
		opts.Memo = upstreamfacts.New(s.Home)
	}
	if o.ToolCache {
		opts.ToolCache = toolcache.New(s.Home)
	}
	if share != nil {
		opts.Share = share(c)
	}
	c.Proxy = proxy.New(opts)
	c.Broker = broker.New(c.Proxy, s.Separator)
	t.Cleanup(c.Proxy.Close)
	return c
}

// SetServers rewrites $ICA_HOME/mcp-servers.json with servers (a server
// must have a script from New) and reloads the configuration, as the
// proxy does when it sees the file change.
func (c *Core) SetServers(t testing.TB, servers map[string]any) {
	t.Helper()
	writeJSON(t, filepath.Join(c.Home, "mcp-servers.json"), map[string]any{"mcpServers": servers})
	c.Proxy.Reload(context.Background())
}

// opener opens every transport name the scripts provide through one local
// client.
type opener struct{ tc sdk.TransportClient }

func (o opener) Transport(_ context.Context, name string) (sdk.TransportClient, string, error) {
	if name != "stdio" {
		return nil, "", fmt.Errorf("no transport plugin provides %q", name)
	}
	return o.tc, "ica-plugin-scripted", nil
}

func writeJSON(t testing.TB, path string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// testOutput sends the core's log to the test's, while the test runs.
type testOutput struct{ t testing.TB }

func (w testOutput) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // a log line after the test ended
	w.t.Log(string(p))
	return len(p), nil
}
