package register

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var entry = Entry{Name: "ica-mcp-proxy", Command: "/opt/ica/bin/ica-mcp-proxy", Env: map[string]string{"ICA_MCP_PROXY_TOOL_SEPARATOR": "__"}}

func client(t *testing.T, name string) Client {
	t.Helper()
	c, ok := Lookup(name)
	if !ok {
		t.Fatalf("no client %q", name)
	}
	return c
}

func merge(t *testing.T, c Client, in string) (string, bool) {
	t.Helper()
	out, changed, err := c.merge("test", []byte(in), entry)
	if err != nil {
		t.Fatalf("merge: %v", err)
	}
	// Merging the result again changes nothing.
	again, changed2, err := c.merge("test", out, entry)
	if err != nil || changed2 || string(again) != string(out) {
		t.Fatalf("second merge changed=%v err=%v:\n%s", changed2, err, again)
	}
	return string(out), changed
}

func TestJSONKeepsTheRestOfTheFile(t *testing.T) {
	in := `{
    "theme": "dark",
    "mcpServers": {
        "notes": {
            "command": "notes-mcp",
            "args": ["--ro"]
        }
    },
    "zzz": [1, 2.50, {"a": null}]
}
`
	want := `{
    "theme": "dark",
    "mcpServers": {
        "notes": {
            "command": "notes-mcp",
            "args": ["--ro"]
        },
        "ica-mcp-proxy": {
            "command": "/opt/ica/bin/ica-mcp-proxy",
            "args": [],
            "env": {
                "ICA_MCP_PROXY_TOOL_SEPARATOR": "__"
            }
        }
    },
    "zzz": [1, 2.50, {"a": null}]
}
`
	out, changed := merge(t, client(t, "cursor"), in)
	if !changed || out != want {
		t.Fatalf("changed=%v, got:\n%s", changed, out)
	}
}

func TestJSONWithoutContainer(t *testing.T) {
	c := client(t, "claude-code")
	out, _ := merge(t, c, "{\n  \"numStartups\": 3\n}\n")
	want := `{
  "numStartups": 3,
  "mcpServers": {
    "ica-mcp-proxy": {
      "type": "stdio",
      "command": "/opt/ica/bin/ica-mcp-proxy",
      "args": [],
      "env": {
        "ICA_MCP_PROXY_TOOL_SEPARATOR": "__"
      }
    }
  }
}
`
	if out != want {
		t.Fatalf("got:\n%s", out)
	}
	// An empty object, a compact file, an empty file.
	if out, _ := merge(t, c, `{"mcpServers": {}}`); out != `{"mcpServers": {"ica-mcp-proxy":{"type":"stdio","command":"/opt/ica/bin/ica-mcp-proxy","args":[],"env":{"ICA_MCP_PROXY_TOOL_SEPARATOR":"__"}}}}` {
		t.Fatalf("compact: %s", out)
	}
	if out, _ := merge(t, client(t, "opencode"), ""); !strings.Contains(out, `"$schema": "https://opencode.ai/config.json",`) ||
		!strings.Contains(out, `"command": [
        "/opt/ica/bin/ica-mcp-proxy"
      ],`) {
		t.Fatalf("new opencode file:\n%s", out)
	}
}

func TestJSONUpdatesAnOldEntryKeepingWhatTheUserAdded(t *testing.T) {
	in := `{
  "mcpServers": {
    "ica-mcp-proxy": {
      "command": "python3",
      "args": ["/home/u/.codex/skills/mcp-proxy/scripts/mcp_proxy_server.py"],
      "env": {"ICA_MCP_STRICT_TRUST": "1"},
      "timeout": 30000
    },
    "other": {"url": "https://x.example/mcp"}
  }
}`
	out, changed := merge(t, client(t, "gemini"), in)
	// Gemini accepts dots: no separator; the user's variable stays.
	want := `{
  "mcpServers": {
    "ica-mcp-proxy": {
      "command": "/opt/ica/bin/ica-mcp-proxy",
      "args": [],
      "env": {
        "ICA_MCP_PROXY_TOOL_SEPARATOR": "__",
        "ICA_MCP_STRICT_TRUST": "1"
      },
      "timeout": 30000
    },
    "other": {"url": "https://x.example/mcp"}
  }
}`
	if !changed || out != want {
		t.Fatalf("got:\n%s", out)
	}
}

func TestJSONRefusals(t *testing.T) {
	c := client(t, "gemini")
	_, _, err := c.merge("settings.json", []byte("{\n  // my settings\n  \"a\": 1\n}\n"), entry)
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "comments") {
		t.Fatalf("comments: %v", err)
	}
	_, _, err = c.merge("settings.json", []byte(`{"mcpServers": []}`), entry)
	if err == nil || !strings.Contains(err.Error(), `"mcpServers" is not an object`) {
		t.Fatalf("array container: %v", err)
	}
	_, _, err = c.merge("settings.json", []byte(`[1]`), entry)
	if err == nil || !strings.Contains(err.Error(), "does not hold a JSON object") {
		t.Fatalf("array root: %v", err)
	}
}

const codexConfig = `# Codex settings
model = "gpt-5"

[mcp_servers.docs]
command = "docs-mcp"
args = [
  "--flag",
  # a comment inside an array
]
description = """
[not.a.table]
"""

[mcp_servers.docs.env]
TOKEN = "x" # trailing

[profiles.fast]
model = "gpt-5-mini"
`

func TestTOMLAppendsTheTable(t *testing.T) {
	out, changed := merge(t, client(t, "codex"), codexConfig)
	want := codexConfig + `
[mcp_servers.ica-mcp-proxy]
command = "/opt/ica/bin/ica-mcp-proxy"
args = []
env = { ICA_MCP_PROXY_TOOL_SEPARATOR = "__" }
`
	if !changed || out != want {
		t.Fatalf("got:\n%s", out)
	}
}

func TestTOMLUpdatesAnOldEntry(t *testing.T) {
	in := `[mcp_servers.ica-mcp-proxy]
type = "stdio"
command = "python3"
args = [
  "/home/u/.codex/skills/mcp-proxy/scripts/mcp_proxy_server.py",
]
startup_timeout_sec = 20

[mcp_servers.ica-mcp-proxy.env]
# keep strict trust on
ICA_MCP_STRICT_TRUST = "1"

[mcp_servers.other]
command = "other"
`
	want := `[mcp_servers.ica-mcp-proxy]
type = "stdio"
command = "/opt/ica/bin/ica-mcp-proxy"
args = []
startup_timeout_sec = 20

[mcp_servers.ica-mcp-proxy.env]
ICA_MCP_PROXY_TOOL_SEPARATOR = "__"
# keep strict trust on
ICA_MCP_STRICT_TRUST = "1"

[mcp_servers.other]
command = "other"
`
	out, changed := merge(t, client(t, "codex"), in)
	if !changed || out != want {
		t.Fatalf("got:\n%s", out)
	}
}

func TestTOMLRefusals(t *testing.T) {
	c := client(t, "codex")
	_, _, err := c.merge("config.toml", []byte("[mcp_servers]\nica-mcp-proxy = { command = \"python3\" }\n"), entry)
	if err == nil || !strings.Contains(err.Error(), "not written as a [mcp_servers.ica-mcp-proxy] table") {
		t.Fatalf("inline entry: %v", err)
	}
	_, _, err = c.merge("config.toml", []byte("mcp_servers = 3\n"), entry)
	if err == nil || !strings.Contains(err.Error(), "nothing written") {
		t.Fatalf("scalar container: %v", err)
	}
	_, _, err = c.merge("config.toml", []byte("model = \n"), entry)
	if err == nil || !strings.Contains(err.Error(), "not valid TOML") {
		t.Fatalf("broken file: %v", err)
	}
}

func TestWriteBacksUpKeepsModeAndFollowsSymlinks(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "dotfiles", "mcp.json")
	if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
		t.Fatal(err)
	}
	orig := "{\n  \"mcpServers\": {}\n}\n"
	if err := os.WriteFile(real, []byte(orig), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "mcp.json")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	c := client(t, "cursor")
	p, err := Prepare(c, link, entry)
	if err != nil || p.State != Missing {
		t.Fatalf("prepare: %v %v", p, err)
	}
	now := time.Date(2026, 11, 30, 1, 2, 3, 0, time.UTC)
	backup, err := p.Write(now)
	if err != nil {
		t.Fatal(err)
	}
	if backup != real+".bak-20261130T010203Z" {
		t.Fatalf("backup at %s", backup)
	}
	if b, _ := os.ReadFile(backup); string(b) != orig {
		t.Fatalf("backup holds %q", b)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v", err)
	}
	if fi, _ := os.Stat(real); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	p, err = Prepare(c, link, entry)
	if err != nil || p.State != Current || p.Registered != entry.Command {
		t.Fatalf("after write: %+v %v", p, err)
	}
	if backup, err := p.Write(now.Add(time.Hour)); err != nil || backup != "" {
		t.Fatalf("second write: %q %v", backup, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(real))
	if len(entries) != 2 {
		t.Fatalf("files: %v", entries)
	}

	// A new file is created private, in a new folder.
	fresh := filepath.Join(dir, "new", "settings.json")
	p, err = Prepare(client(t, "gemini"), fresh, entry)
	if err != nil || p.State != NoConfig {
		t.Fatalf("prepare new: %+v %v", p, err)
	}
	if _, err := p.Write(now); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(fresh); fi.Mode().Perm() != 0o600 {
		t.Fatalf("new file mode %v", fi.Mode().Perm())
	}
}

func TestConfigPaths(t *testing.T) {
	env := Env{Home: "/h", GOOS: "linux", Getenv: func(k string) string {
		return map[string]string{"CODEX_HOME": "/c"}[k]
	}}
	want := map[string]string{
		"claude-code":    "/h/.claude.json",
		"claude-desktop": "/h/.config/Claude/claude_desktop_config.json",
		"codex":          "/c/config.toml",
		"cursor":         "/h/.cursor/mcp.json",
		"gemini":         "/h/.gemini/settings.json",
		"opencode":       "/h/.config/opencode/opencode.json",
		"antigravity":    "/h/.gemini/antigravity/mcp_config.json",
	}
	for _, c := range Clients {
		if got := c.ConfigPath(env); got != want[c.Name] {
			t.Errorf("%s: %s, want %s", c.Name, got, want[c.Name])
		}
	}
	env.GOOS = "darwin"
	if got := client(t, "claude-desktop").ConfigPath(env); got != "/h/Library/Application Support/Claude/claude_desktop_config.json" {
		t.Errorf("darwin: %s", got)
	}
	env.GOOS = "windows"
	if got := client(t, "claude-desktop").ConfigPath(env); got != "/h/AppData/Roaming/Claude/claude_desktop_config.json" {
		t.Errorf("windows without APPDATA: %s", got)
	}
	env.Getenv = func(k string) string { return map[string]string{"APPDATA": "/roaming"}[k] }
	if got := client(t, "claude-desktop").ConfigPath(env); got != "/roaming/Claude/claude_desktop_config.json" {
		t.Errorf("windows: %s", got)
	}
	// The others keep their folders under the home folder everywhere.
	for name, want := range map[string]string{"claude-code": "/h/.claude.json", "codex": "/h/.codex/config.toml", "cursor": "/h/.cursor/mcp.json", "opencode": "/h/.config/opencode/opencode.json"} {
		if got := client(t, name).ConfigPath(env); got != want {
			t.Errorf("windows %s: %s, want %s", name, got, want)
		}
	}
}

func TestBudget(t *testing.T) {
	for _, tc := range []struct {
		client, entry string
		want          int
		ok            bool
		exposed       string
	}{
		// mcp__ica-mcp-proxy__ is 20 characters: 64 − 20.
		{"claude-code", DefaultName, 44, true, "mcp__ica-mcp-proxy__demo__echo"},
		{"claude-code", "my.proxy", 49, true, "mcp__my_proxy__demo__echo"},
		{"codex", DefaultName, 44, true, "mcp__ica_mcp_proxy__demo__echo"},
		{"codex", "x", 56, true, "mcp__x__demo__echo"},
		{"gemini", DefaultName, 45, true, "mcp_ica-mcp-proxy_demo__echo"},
		{"opencode", DefaultName, 50, true, "ica-mcp-proxy_demo__echo"},
		{"cursor", DefaultName, 46, true, "ica-mcp-proxydemo__echo"},
		{"claude-desktop", DefaultName, 64, true, "demo__echo"},
		// An entry name that leaves less than the proxy.* names need
		// gets the floor, and says so.
		{"claude-code", "an-entry-name-much-too-long-for-any-budget", 24, false, ""},
	} {
		c, _ := Lookup(tc.client)
		n, ok := c.Budget(tc.entry)
		if n != tc.want || ok != tc.ok {
			t.Errorf("%s/%s: budget %d %v, want %d %v", tc.client, tc.entry, n, ok, tc.want, tc.ok)
		}
		if tc.exposed != "" {
			if got := c.ExposedName(tc.entry, "demo__echo"); got != tc.exposed {
				t.Errorf("%s/%s: exposed %q, want %q", tc.client, tc.entry, got, tc.exposed)
			}
		}
		e := EntryFor(c, tc.entry, "/bin/p", func(string) string { return "" })
		want := ""
		if tc.want != 64 {
			want = strconv.Itoa(tc.want)
		}
		if w := map[string]string{"claude-code": "0.5", "codex": "0.5", "opencode": "4"}[tc.client]; e.Env["ICA_MCP_PROXY_LIST_WAIT_S"] != w {
			t.Errorf("%s: list wait %q, want %q", tc.client, e.Env["ICA_MCP_PROXY_LIST_WAIT_S"], w)
		}
		if m := map[string]string{"codex": "100", "opencode": "100"}[tc.client]; e.Env["ICA_MCP_PROXY_MAX_TOTAL_TOOLS"] != m {
			t.Errorf("%s: tool count %q, want %q", tc.client, e.Env["ICA_MCP_PROXY_MAX_TOTAL_TOOLS"], m)
		}
		if e.Env["ICA_MCP_PROXY_TOOL_NAME_MAX"] != want {
			t.Errorf("%s/%s: entry sets %q, want %q", tc.client, tc.entry, e.Env["ICA_MCP_PROXY_TOOL_NAME_MAX"], want)
		}
	}
}
